"""The LM layer: DSPy language models from ``conf/lm/*.yaml``, the embedded local model and its server.

Typical use::

    from alamp.lm import configure_dspy, load_lm_config
    lm = configure_dspy(load_lm_config(["lm=local"]))  # provisions the model and starts the server if needed

``python -m alamp.lm check`` shows the whole chain working; ``python -m alamp.lm provision`` only prepares the model.
"""

import os as _os

# LiteLLM (under DSPy) fetches a model cost map from the internet on first import unless told not to.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from alamp.lm.cache import configure_lm_cache  # noqa: E402
from alamp.lm.config import (  # noqa: E402
    Backend,
    EmbeddedModelConfig,
    LMConfig,
    build_adapter,
    build_lm,
    configure_dspy,
    load_lm_config,
    resolve_api_key,
)
from alamp.lm.errors import (  # noqa: E402
    LMConfigError,
    LMSetupError,
    LMUnavailableError,
    MissingAPIKeyError,
    ModelIntegrityError,
    ModelNotFoundError,
    PortInUseError,
    ServerDiedError,
    ServerStartError,
    lm_unavailable_reason,
)
from alamp.lm.model import ensure_model, verified_model_sha256, verified_sha256  # noqa: E402
from alamp.lm.server import LocalServer, ServerTimings, get_local_server, stop_local_server  # noqa: E402

__all__ = [
    "Backend",
    "EmbeddedModelConfig",
    "LMConfig",
    "load_lm_config",
    "resolve_api_key",
    "build_lm",
    "build_adapter",
    "configure_dspy",
    "configure_lm_cache",
    "ensure_model",
    "verified_sha256",
    "verified_model_sha256",
    "LocalServer",
    "ServerTimings",
    "get_local_server",
    "stop_local_server",
    "LMSetupError",
    "LMConfigError",
    "MissingAPIKeyError",
    "ModelNotFoundError",
    "ModelIntegrityError",
    "ServerStartError",
    "PortInUseError",
    "ServerDiedError",
    "LMUnavailableError",
    "lm_unavailable_reason",
]
