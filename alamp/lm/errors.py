"""Errors of the LM layer. Each message names the bad input and the fix."""

from __future__ import annotations

__all__ = [
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


class LMSetupError(RuntimeError):
    """Base class: the language model could not be set up."""


class LMConfigError(LMSetupError, ValueError):
    """An LM configuration value is invalid."""


class MissingAPIKeyError(LMConfigError):
    """The environment variable that should hold a remote backend's API key is unset or empty."""


class ModelNotFoundError(LMSetupError, FileNotFoundError):
    """The local model file (or the wheels that carry it) cannot be found."""


class ModelIntegrityError(LMSetupError):
    """The model file's size or sha256 differs from the expected one."""


class ServerStartError(LMSetupError):
    """The local model server did not start or did not answer in time."""


class PortInUseError(ServerStartError):
    """The configured port is already taken by another process."""


class ServerDiedError(LMSetupError):
    """The local model server process has exited (crashed or was killed)."""


class LMUnavailableError(LMSetupError):
    """The LM could not be reached or kept failing after its retries (refused, timed out, rate-limited, 5xx)."""


# Exception class names (DSPy's own engine, LiteLLM, httpx, the standard library) that mean "the LM is not
# available", with what to tell the user. Matched by name along the exception's cause chain, so this works across
# DSPy/LiteLLM versions without importing them.
_UNAVAILABLE = {
    "LMTransportError": "the LM server could not be reached or did not answer in time",
    "LMRateLimitError": "the LM provider kept rate-limiting the requests",
    "LMServerError": "the LM server kept failing (HTTP 5xx)",
    "LMAuthError": "the LM provider rejected the API key",
    "LMBillingError": "the LM provider refused the request for billing or quota",
    "APIConnectionError": "the LM server could not be reached",
    "Timeout": "the LM request timed out",
    "APITimeoutError": "the LM request timed out",
    "RateLimitError": "the LM provider kept rate-limiting the requests",
    "ServiceUnavailableError": "the LM server is unavailable (HTTP 503)",
    "InternalServerError": "the LM server kept failing (HTTP 5xx)",
    "BadGatewayError": "the LM server kept failing (HTTP 502)",
    "AuthenticationError": "the LM provider rejected the API key",
    "ConnectError": "the LM server could not be reached",
    "ReadTimeout": "the LM request timed out",
    "ConnectionRefusedError": "the LM server refused the connection",
    "ServerDiedError": "the local model server died",
    "ServerStartError": "the local model server did not start",
    "LMUnavailableError": "the LM is unavailable",
}
# A reply that is not the API's JSON: a broken server or a proxy in between, not the model's answer.
_GARBAGE_MARKERS = ("is not JSON", "not valid JSON", "Invalid JSON", "JSONDecodeError")


def lm_unavailable_reason(exc: BaseException) -> str | None:
    """Why the LM is unavailable, if ``exc`` (or an exception it was raised from) says so; else None.

    Used to end a run with ``ExitCode.LM_UNAVAILABLE`` and a message naming the cause instead of a traceback or a
    "modeling failed" verdict. A request the provider rejected as malformed (e.g. context window exceeded) is not
    "unavailable" and gives None.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for cls in type(current).__mro__:
            if cls.__name__ in _UNAVAILABLE:
                return f"{_UNAVAILABLE[cls.__name__]}: {_short(current)}"
        if type(current).__name__ in ("LMProviderError", "APIError") and any(
            marker in str(current) for marker in _GARBAGE_MARKERS
        ):
            return f"the LM server answered with something that is not the API's JSON: {_short(current)}"
        current = current.__cause__ or current.__context__
    return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:300] + " ..."
