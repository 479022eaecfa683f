"""Training results cached by what determines them: the environment and the trainer configuration.

Compiling evaluates many candidate programs, and most candidates produce an environment seen before (the same
spec, or the same code). Training a DQN is by far the most expensive step on a CPU, so an unchanged environment
with an unchanged trainer configuration is never trained twice: its policy directory and result JSON are stored
under ``<root>/<key[:2]>/<key>/`` and reused.

Usage::

    cache = TrainingCache(cache_dir() / "training")
    key = cache.key(env=spec_or_code, trainer=trainer_cfg, extra={"seed": 0})
    entry = cache.get_or_train(key, lambda policy_dir: train(env, out=policy_dir))  # returns a CachedTraining
    entry.policy_dir, entry.result, entry.hit

Writes are atomic (a temporary directory renamed into place), so parallel jobs that train the same environment
at once both succeed and one result wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CachedTraining", "TrainingCache", "canonical_json"]

_RESULT_FILE = "result.json"
_POLICY_DIR = "policy"


def _to_plain(value: Any) -> Any:
    """Turn pydantic models, OmegaConf configs, paths and tuples into plain JSON data."""
    if hasattr(value, "model_dump"):
        return _to_plain(value.model_dump(mode="json"))
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, DictConfig | ListConfig):
            return _to_plain(OmegaConf.to_container(value, resolve=True))
    except ImportError:  # pragma: no cover - omegaconf ships with hydra-core
        pass
    if isinstance(value, Mapping):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) of ``value``: equal inputs give equal text."""
    return json.dumps(_to_plain(value), sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class CachedTraining:
    """One cached training: the directory holding the policy files, the result JSON, and whether it was a hit."""

    key: str
    policy_dir: Path
    result: dict[str, Any]
    hit: bool


class TrainingCache:
    """A directory of training results keyed by a hash of environment + trainer configuration.

    Args:
        root: The cache directory (created on first write).
        enabled: When False, ``get`` always misses and ``put`` stores nothing (training always runs).
    """

    def __init__(self, root: str | os.PathLike[str], *, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(*, env: Any, trainer: Any, extra: Any = None) -> str:
        """The cache key: SHA-256 of the canonical JSON of the environment, trainer config and extras.

        Args:
            env: The environment as a spec (pydantic model or dict) or as source code (a string). Code is hashed
                with trailing whitespace per line stripped, so reformatting noise does not defeat the cache.
            trainer: The trainer configuration (dict, dataclass-like pydantic model or OmegaConf config).
            extra: Anything else the result depends on (seed, evaluation episodes, reference id).

        Returns:
            A 64-character hex digest.
        """
        if isinstance(env, str):
            env_part: Any = {"code": "\n".join(line.rstrip() for line in env.strip().splitlines())}
        else:
            env_part = {"spec": _to_plain(env)}
        payload = canonical_json({"env": env_part, "trainer": trainer, "extra": extra})
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _entry_dir(self, key: str) -> Path:
        if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key {key!r} is not a hex digest; make keys with TrainingCache.key(...)")
        return self.root / key[:2] / key

    def get(self, key: str) -> CachedTraining | None:
        """The cached training for ``key``, or None (counted as a miss)."""
        entry = self._entry_dir(key)
        result_file = entry / _RESULT_FILE
        if not self.enabled or not result_file.exists():
            self.misses += 1
            return None
        self.hits += 1
        return CachedTraining(
            key=key, policy_dir=entry / _POLICY_DIR, result=json.loads(result_file.read_text("utf-8")), hit=True
        )

    def put(
        self, key: str, *, result: Mapping[str, Any], policy_dir: str | os.PathLike[str] | None = None
    ) -> CachedTraining:
        """Store a training result (and a copy of its policy directory) under ``key``.

        Args:
            key: From :meth:`key`.
            result: JSON-serialisable training result (returns, steps, curve...).
            policy_dir: A directory with the trained policy's files; copied into the cache.

        Returns:
            The stored entry (``hit=False``); if another process stored the same key first, that entry.
        """
        entry = self._entry_dir(key)
        if not self.enabled:
            kept = Path(policy_dir) if policy_dir is not None else entry / _POLICY_DIR
            return CachedTraining(key=key, policy_dir=kept, result=dict(result), hit=False)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=entry.parent))
        try:
            if policy_dir is not None:
                shutil.copytree(policy_dir, tmp / _POLICY_DIR)
            else:
                (tmp / _POLICY_DIR).mkdir()
            (tmp / _RESULT_FILE).write_text(json.dumps(_to_plain(dict(result)), indent=2, default=str), "utf-8")
            try:
                os.replace(tmp, entry)
            except OSError:
                # Another job stored this key meanwhile (rename onto a non-empty directory fails): keep theirs.
                if not (entry / _RESULT_FILE).exists():
                    raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
        stored = json.loads((entry / _RESULT_FILE).read_text("utf-8"))
        return CachedTraining(key=key, policy_dir=entry / _POLICY_DIR, result=stored, hit=False)

    def get_or_train(self, key: str, train_fn: Callable[[Path], Mapping[str, Any]]) -> CachedTraining:
        """Return the cached training for ``key``, or run ``train_fn`` and cache what it produces.

        Args:
            key: From :meth:`key`.
            train_fn: Called with an empty directory to write the policy into; returns the result JSON. Not called
                on a hit.

        Returns:
            The entry; ``hit`` tells whether training was skipped.
        """
        cached = self.get(key)
        if cached is not None:
            return cached
        with tempfile.TemporaryDirectory(prefix="alamp-train-") as work:
            policy_dir = Path(work) / _POLICY_DIR
            policy_dir.mkdir()
            result = train_fn(policy_dir)
            if not self.enabled:
                # Nothing persists; hand back a copy the caller can still read after this returns.
                keep = Path(tempfile.mkdtemp(prefix="alamp-policy-"))
                shutil.copytree(policy_dir, keep, dirs_exist_ok=True)
                return CachedTraining(key=key, policy_dir=keep, result=dict(result), hit=False)
            return self.put(key, result=result, policy_dir=policy_dir)
