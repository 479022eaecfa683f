"""Paper-style experiments: a Hydra multirun of full ``alamp.run`` jobs, then the report.

    python -m alamp.experiment -m pipeline=alamp,single_model \\
        task=cartpole,mountain_car,wireless,drone,inventory seed=0,1,2
    python -m alamp.experiment experiment=paper_table           # the same sweep as a preset (conf/experiment/)
    python -m alamp.experiment -m debug=fast task=cartpole pipeline=alamp,single_model   # smoke test

Each job is exactly ``alamp.run`` on the composed ``conf/experiment.yaml`` (which extends ``conf/run.yaml``), so
``lm=``, ``program=``, ``coding=``, ``trainer=`` and every run option work per job or as sweep axes. Each job
writes its run directory (``run.json`` with the verdict) under ``multirun/<date>/<time>/<job>/``; when the sweep
ends, :class:`ReportCallback` aggregates it with :mod:`alamp.report` (``report.md``, ``report.json``,
``report.png`` in the sweep directory). ``python -m alamp.report <dir>`` redoes that at any time.

A job that fails (bad input, crash) is logged and the sweep goes on; the report counts it as a failed run.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from alamp.paths import conf_dir

__all__ = ["apply_trainer_overrides", "run_job", "ReportCallback", "main"]

log = logging.getLogger(__name__)


def apply_trainer_overrides(cfg: DictConfig) -> DictConfig:
    """Merge ``trainer_overrides`` (e.g. from ``debug=fast``) into ``trainer.dqn``, in place; returns ``cfg``."""
    overrides = cfg.get("trainer_overrides")
    if overrides:
        with open_dict(cfg):
            if cfg.trainer.get("dqn") is None:
                cfg.trainer.dqn = {}
            cfg.trainer.dqn = OmegaConf.merge(cfg.trainer.dqn, overrides)
    return cfg


def run_job(cfg: DictConfig, *, run_dir: Path | None = None, lm: Any = None) -> dict[str, Any] | None:
    """One experiment job: ``alamp.run.run`` with the trainer overrides applied.

    Args:
        cfg: The composed experiment config.
        run_dir: Where to write (default: the job's Hydra output directory).
        lm: A scripted LM (tests).

    Returns:
        The run summary, or None when the job failed (then an ``error.txt`` is left in the job directory, and the
        report counts the job as failed unless ``fail_fast`` is set, which re-raises).
    """
    from alamp.run import run

    apply_trainer_overrides(cfg)
    try:
        return run(cfg, run_dir=run_dir, lm=lm)
    except Exception as exc:
        if cfg.get("fail_fast", False):
            raise
        target = run_dir or _job_dir()
        if target is not None:
            target.mkdir(parents=True, exist_ok=True)
            (target / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        log.error("job failed (task=%s pipeline=%s seed=%s): %s", cfg.get("task"), _pipeline(cfg), cfg.get("seed"), exc)
        return None


def _pipeline(cfg: Mapping[str, Any]) -> Any:
    pipeline = cfg.get("pipeline")
    return pipeline.get("name") if isinstance(pipeline, Mapping) else pipeline


def _job_dir() -> Path | None:
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # outside a Hydra app
        return None


try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - hydra-core is a runtime dependency
    _HydraCallback = object  # type: ignore[assignment,misc]


class ReportCallback(_HydraCallback):  # type: ignore[misc,valid-type]
    """Hydra callback: when a multirun ends, write the report of its sweep directory (and print the table).

    Args:
        plot: Also draw ``report.png``.
    """

    def __init__(self, plot: bool = True) -> None:
        self.plot = plot

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from alamp.report import write_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            markdown, paths = write_report(sweep_dir, plot=self.plot)
        except Exception as exc:  # the sweep's results are on disk either way; the report can be redone
            log.warning("could not write the report for %s (%s); run python -m alamp.report %s", sweep_dir, exc,
                        sweep_dir)
            return
        print(markdown)
        print("report: " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)


def main() -> None:
    """Hydra entry point (``python -m alamp.experiment``)."""
    import hydra

    # Registers the run-directory resolver that conf/hydra/default.yaml uses.
    import alamp.run  # noqa: F401

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="experiment")
    def _main(cfg: DictConfig) -> None:
        run_job(cfg)

    _main()


if __name__ == "__main__":
    main()
