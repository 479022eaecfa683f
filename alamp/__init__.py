"""alamp: from a free-form description of a decision problem to a formal MDP, a gymnasium environment and a policy."""

import os as _os

# LiteLLM (under DSPy) fetches a model cost map from the internet on first use unless told not to.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"

__all__ = ["__version__"]
