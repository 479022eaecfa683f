"""DSPy's response cache in alamp's cache directory, shared by runs, compiles and experiments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["configure_lm_cache"]


def configure_lm_cache(settings: Mapping[str, Any] | None) -> Path | None:
    """Turn DSPy's disk cache on (or off) in the configured directory (default ``<alamp cache>/dspy``).

    One directory for ``alamp.run``, ``alamp.compile`` and ``alamp.experiment``: a compile's dev evaluation and a
    later run of the same task and program then share answers. An answer is reused only for the identical request
    (model, messages, sampling settings, ``rollout_id``), so a changed prompt or a new replicate seed asks again.

    Args:
        settings: ``{enabled: bool, dir: str | None}`` (``lm_cache`` in conf/run.yaml and conf/compile.yaml).

    Returns:
        The cache directory, or None when disabled.
    """
    import dspy

    from alamp.paths import cache_dir

    settings = dict(settings or {})
    if not settings.get("enabled", True):
        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
        return None
    directory = Path(settings.get("dir") or cache_dir() / "dspy").expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(directory))
    return directory
