"""Experiment tracking with Weights & Biases: offline by default, a no-op when disabled.

Every run and compile logs its configuration, each stage's output (one row per agent in a ``wandb.Table``),
training curves and the verdict. :meth:`Tracker.log_run` logs a finished run directory: its verdict and status as
summary values (for failed runs too) and its report, spec, ``env.py`` and policy as artifacts. Runs of one Hydra
multirun share a wandb group named after the sweep, so a sweep is one group in the wandb UI.

The mode is chosen so that code never sends data anywhere by itself:

1. ``WANDB_MODE`` in the environment wins (``disabled`` in tests, ``online`` only if the user exports it);
2. otherwise the config's ``mode`` (default ``offline``: runs are written under ``wandb/`` and can be pushed later
   with ``wandb sync``);
3. ``enabled: false`` in the config, or mode ``disabled``, makes every method a no-op without importing wandb.

Usage::

    with Tracker.start(cfg.tracking, config=cfg_dict, job_type="run", name="cartpole-alamp") as tracker:
        tracker.log_stage_outputs(stages)
        tracker.log_training_curve(curve)
        tracker.log_verdict(verdict)
        tracker.log_run(run_dir)          # at the end: verdict, status, report/spec/env.py/policy artifacts
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Tracker", "resolve_mode", "sweep_group", "RUN_ARTIFACTS"]

RUN_ARTIFACTS: dict[str, tuple[str, ...]] = {
    "report": ("report.html", "report.md"),
    "spec": ("env_spec.json", "mdp.md"),
    "env": ("env.py",),
    "policy": ("training/policy",),
}
"""What :meth:`Tracker.log_run` attaches: artifact type -> files or folders of the run directory (missing ones are
skipped, so a run that failed early still logs its report)."""

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


def sweep_group() -> str | None:
    """The wandb group of the current Hydra multirun job (``sweep-<date>_<time>`` from the sweep directory), or None
    outside a multirun."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return None
        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode != RunMode.MULTIRUN:
            return None
        parts = Path(str(hydra_cfg.sweep.dir)).parts[-2:]
    except Exception:  # no Hydra, or a config without a sweep: no group
        return None
    return "sweep-" + "_".join(parts) if parts else None


def _artifact_name(kind: str, label: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return f"{kind}-{safe}"[:120]


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
            group: Groups runs; default: the Hydra sweep of a multirun job (:func:`sweep_group`), else none.
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
                "group": group if group is not None else sweep_group(),
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

    def log_run(self, run_dir: str | os.PathLike[str]) -> None:
        """Log a run directory at the end of a run, whatever its outcome.

        Summary values: ``status``, ``failed_stage``, ``verdict/<field>`` (every level, also for a run that failed
        before training), ``lm/calls``, ``lm/total_tokens``, ``wall_time_s``, ``env/passed``, ``env/repairs`` and
        ``env/agreement`` when candidates were compared. Artifacts (:data:`RUN_ARTIFACTS`): the report, the spec,
        ``env.py`` and the policy, each named ``<type>-<run directory name>``. Never raises: tracking must not
        break a run.
        """
        if self._run is None:
            return
        path = Path(run_dir)
        try:
            run = json.loads((path / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("wandb: cannot read %s/run.json (%s); nothing logged", path, exc)
            return
        try:
            self._log_run_summary(run)
            self._log_run_artifacts(path, label=path.name)
        except Exception as exc:  # tracking must never break a run
            log.warning("wandb: logging the run directory failed (%s)", exc)

    def _log_run_summary(self, run: Mapping[str, Any]) -> None:
        summary = self._run.summary
        summary["status"] = run.get("status")
        summary["failed_stage"] = run.get("failed_stage")
        if run.get("wall_time_s") is not None:
            summary["wall_time_s"] = run["wall_time_s"]
        lm = run.get("lm") or {}
        for key in ("calls", "total_tokens"):
            if key in lm:
                summary[f"lm/{key}"] = lm[key]
        env = run.get("env") or {}
        summary["env/passed"] = bool(env.get("passed"))
        summary["env/repairs"] = env.get("repairs", 0)
        consensus = env.get("consensus")
        if isinstance(consensus, Mapping) and consensus.get("agreement") is not None:
            summary["env/agreement"] = consensus["agreement"]
        from alamp.run_report import levels_of

        verdict = levels_of(run)  # a run that was never graded still has the levels its record shows
        verdict["messages"] = "\n".join(map(str, verdict.get("messages") or []))
        verdict.pop("modeling_details", None)
        self.log_verdict(verdict)

    def _log_run_artifacts(self, path: Path, *, label: str) -> None:
        import wandb

        for kind, names in RUN_ARTIFACTS.items():
            present = [path / name for name in names if (path / name).exists()]
            if not present:
                continue
            artifact = wandb.Artifact(_artifact_name(kind, label), type=kind)
            for item in present:
                if item.is_dir():
                    artifact.add_dir(str(item), name=str(item.relative_to(path)))
                else:
                    artifact.add_file(str(item), name=str(item.relative_to(path)))
            self._run.log_artifact(artifact)

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
