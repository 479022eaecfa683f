"""alamp: from a free-form description of a decision problem to a formal MDP, a gymnasium environment and a policy."""

import os as _os
from typing import Any as _Any

# LiteLLM (under DSPy) fetches a model cost map from the internet on first use unless told not to.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"

__all__ = ["__version__", "load_program"]

# Heavy public names are imported on first use, so `import alamp` stays fast (DSPy takes seconds to import).
_LAZY = {"load_program": "alamp.artifact"}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'alamp' has no attribute {name!r}")
