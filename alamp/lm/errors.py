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
