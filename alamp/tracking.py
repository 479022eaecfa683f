"""Experiment tracking with Weights & Biases: offline by default, a no-op when disabled.

Every run and compile logs its configuration, each stage's output (one row per agent in a ``wandb.Table``),
training curves and the verdict. The mode is chosen so that code never sends data anywhere by itself:

1. ``WANDB_MODE`` in the environment wins (``disabled`` in tests, ``online`` only if the user exports it);
2. otherwise the config's ``mode`` (default ``offline``: runs are written under ``wandb/`` and can be pushed later
   with ``wandb sync``);
3. ``enabled: false`` in the config, or mode ``disabled``, makes every method a no-op without importing wandb.

Usage::

    with Tracker.start(cfg.tracking, config=cfg_dict, job_type="run", name="cartpole-alamp") as tracker:
        tracker.log_stage_outputs(stages)
        tracker.log_training_curve(curve)
        tracker.log_verdict(verdict)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Tracker", "resolve_mode"]

log = logging.getLogger(__name__)


def resolve_mode(configured: str | None = None, *, enabled: bool = True) -> str:
    """The wandb mode to use: ``WANDB_MODE`` if set, else the configured mode, else ``offline``.

    Args:
        configured: The mode from the config (``offline``, ``online``, ``disabled``), or None.
        enabled: False forces ``disabled`` (tracking switched off in the config).
    """
    if not enabled:
        return "disabled"
    return os.environ.get("WANDB_MODE") or configured or "offline"


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, DictConfig | ListConfig):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Tracker:
    """A thin wrapper over one wandb run; every method is safe to call when tracking is off."""

    def __init__(self, run: Any | None = None) -> None:
        self._run = run

    @property
    def enabled(self) -> bool:
        """Whether a wandb run is open."""
        return self._run is not None

    @classmethod
    def start(
        cls,
        settings: Mapping[str, Any] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        job_type: str = "run",
        name: str | None = None,
        group: str | None = None,
        tags: Iterable[str] = (),
        directory: str | os.PathLike[str] | None = None,
    ) -> Tracker:
        """Open a wandb run (or a no-op tracker).

        Args:
            settings: The ``tracking`` config block: ``enabled`` (default True), ``mode``, ``project``, ``entity``.
            config: The run's full configuration, logged as wandb config.
            job_type: ``run``, ``compile`` or ``experiment``.
            name: Run name shown in wandb.
            group: Groups runs (e.g. one experiment sweep).
            tags: Extra tags.
            directory: Where wandb writes its files (default: the current directory, i.e. Hydra's run dir).

        Returns:
            A tracker; ``enabled`` is False when tracking is off or wandb failed to start (logged, never fatal).
        """
        settings = _plain(dict(settings or {}))
        mode = resolve_mode(settings.get("mode"), enabled=bool(settings.get("enabled", True)))
        if mode == "disabled":
            return cls(None)
        try:
            import wandb

            kwargs: dict[str, Any] = {
                "project": settings.get("project", "alamp"),
                "entity": settings.get("entity"),
                "config": _plain(dict(config or {})),
                "job_type": job_type,
                "name": name,
                "group": group,
                "tags": list(tags) or None,
                "dir": str(directory) if directory is not None else None,
                "reinit": "finish_previous",
            }
            # Only pass a mode when the environment does not choose one, so WANDB_MODE always wins.
            if not os.environ.get("WANDB_MODE"):
                kwargs["mode"] = mode
            run = wandb.init(**kwargs)
        except Exception as exc:  # tracking must never break a run
            log.warning("wandb tracking disabled: could not start a run (%s)", exc)
            return cls(None)
        return cls(run)

    def log(self, data: Mapping[str, Any], *, step: int | None = None) -> None:
        """Log scalar metrics."""
        if self._run is not None:
            self._run.log(dict(data), step=step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Add keys to the run's config."""
        if self._run is not None:
            self._run.config.update(_plain(dict(config)), allow_val_change=True)

    def log_stage_outputs(self, stages: Mapping[str, Any], *, key: str = "stages") -> None:
        """Log each stage's output as one row of a table: stage, status, output (JSON).

        Args:
            stages: ``{stage_name: output}``; an output may be a pydantic model, a dict with a ``status`` key, or any
                JSON-serialisable value.
            key: The table's name in wandb.
        """
        if self._run is None:
            return
        import wandb

        table = wandb.Table(columns=["stage", "status", "output"])
        for stage, output in stages.items():
            plain = _plain(output)
            status = plain.get("status", "") if isinstance(plain, Mapping) else ""
            table.add_data(stage, str(status), json.dumps(plain, default=str, indent=1)[:20_000])
        self._run.log({key: table})

    def log_training_curve(self, points: Iterable[Mapping[str, Any]], *, prefix: str = "train") -> None:
        """Log a training curve: each point a mapping like ``{"step": 1000, "episode_return": 42.0}``."""
        if self._run is None:
            return
        for point in points:
            data = {f"{prefix}/{k}": v for k, v in point.items() if k != "step"}
            if "step" in point:
                data[f"{prefix}/step"] = point["step"]
            self._run.log(data)

    def log_verdict(self, verdict: Any) -> None:
        """Log the verdict's fields as summary values (``verdict/policy_success``...)."""
        if self._run is None:
            return
        plain = _plain(verdict) if not hasattr(verdict, "__dataclass_fields__") else _plain(vars(verdict))
        if isinstance(plain, Mapping):
            for k, v in plain.items():
                self._run.summary[f"verdict/{k}"] = v

    def save_file(self, path: str | os.PathLike[str]) -> None:
        """Attach a file (e.g. run.json or a compiled program) to the run."""
        if self._run is not None and Path(path).exists():
            self._run.save(str(path), base_path=str(Path(path).parent), policy="now")

    def finish(self, *, exit_code: int = 0) -> None:
        """Close the run (idempotent)."""
        if self._run is not None:
            self._run.finish(exit_code=exit_code)
            self._run = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish(exit_code=1 if exc_type is not None else 0)
