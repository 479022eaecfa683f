"""Where things are. The one place that knows the repository layout; everything else asks here."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "conf_dir", "data_dir", "tasks_dir", "cache_dir", "artifacts_dir"]


def project_root() -> Path:
    """The repository root (``ALAMP_ROOT`` overrides; default: the folder above the ``alamp`` package)."""
    env = os.environ.get("ALAMP_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def conf_dir() -> Path:
    return project_root() / "conf"


def data_dir() -> Path:
    return project_root() / "data"


def tasks_dir() -> Path:
    return data_dir() / "tasks"


def artifacts_dir() -> Path:
    return project_root() / "artifacts"


def cache_dir() -> Path:
    """alamp's cache (models, LM cache, training cache): ``ALAMP_CACHE_DIR``, else ``$XDG_CACHE_HOME/alamp``."""
    env = os.environ.get("ALAMP_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "alamp").resolve()
