"""Compile the A-LAMP program (or the baseline) against the train split: ``python -m alamp.compile``.

Steps: load the train and dev tasks; build the program (``pipeline=alamp|single_model``); score it on dev; compile
it with the optimizer of ``conf/optimizer/<name>.yaml`` and the policy-success metric; score it on dev again; save
the program and its metadata atomically to ``artifacts/<name>.json`` / ``artifacts/<name>.meta.json``. The name
says what the program is for, ``<pipeline>_<optimizer>__<lm>`` (``alamp.artifact_names``), and an existing file is
never replaced unless ``overwrite=true`` (checked before any work; exit code 2 otherwise).

Examples::

    python -m alamp.compile                                  # labeled demos (no LLM calls), then dev evaluation
    python -m alamp.compile optimizer=bootstrap max_train=3  # bootstrap traces with the metric
    python -m alamp.compile debug=fast                       # tiny budgets, one task: a smoke test
    python -m alamp.compile evaluate.before=false evaluate.after=false   # labeled: seconds, no LLM at all

Cost control on a small CPU machine: DSPy's disk cache (``lm_cache``), the training cache (``train_cache``: an
unchanged environment is never retrained), a reduced training budget for the metric (``trainer: fast`` plus
``trainer_overrides``), strictly sequential evaluation (LLM calls and training never overlap), and a progress
display over metric calls.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy

from alamp.artifact import save_program
from alamp.artifact_names import ArtifactExistsError, artifact_name, check_can_write
from alamp.exit_codes import ExitCode
from alamp.lm.cache import configure_lm_cache
from alamp.paths import artifacts_dir, cache_dir, conf_dir
from alamp.tracking import Tracker

__all__ = [
    "CompileResult",
    "ProgressMetric",
    "artifact_name_of",
    "compile_from_config",
    "configure_lm_cache",
    "main",
]

log = logging.getLogger(__name__)


@dataclass
class CompileResult:
    """What a compile produced."""

    program: dspy.Module
    program_path: Path | None
    meta_path: Path | None
    metadata: dict[str, Any] = field(default_factory=dict)


def _plain(cfg: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, DictConfig | ListConfig):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return cfg


class ProgressMetric:
    """Wraps a metric to count calls and average scores and show them on a rich progress bar.

    DSPy's own bars cover one evaluation at a time; this one runs across a whole compile (every trial, every
    bootstrapped example) and says which phase is running.

    Args:
        metric: The DSPy metric.
        show: Draw the bar (rich); counting happens either way.
    """

    def __init__(self, metric: Callable[..., Any], *, show: bool = True) -> None:
        self.metric = metric
        self.calls = 0
        self.score_sum = 0.0
        self.phase = "compile"
        self._progress: Any = None
        self._task: Any = None
        self._show = show
        functools.update_wrapper(self, metric)

    def __enter__(self) -> ProgressMetric:
        if self._show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed} metric calls"),
                TextColumn("mean score {task.fields[mean]:.2f}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),  # an estimate where the phase's number of metric calls is known
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.phase, total=None, mean=0.0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def set_phase(self, phase: str, *, total: int | None = None) -> None:
        """Name what is running (``evaluate dev (before)``, ``compile bootstrap``...)."""
        self.phase = phase
        if self._progress is not None:
            self._progress.update(self._task, description=phase, total=total)

    def __call__(self, example: Any, pred: Any, trace: Any = None, *args: Any, **kwargs: Any) -> Any:
        score = self.metric(example, pred, trace, *args, **kwargs)
        value = getattr(score, "score", score)  # GEPA's feedback metric returns a Prediction(score, feedback)
        self.calls += 1
        self.score_sum += float(value)
        if self._progress is not None:
            self._progress.update(self._task, advance=1, mean=self.score_sum / self.calls)
        return score


def _lm_description(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The LM as recorded in metadata: model name and backend, never keys or key variable contents."""
    lm_cfg = dict(cfg.get("lm") or {})
    keep = ("backend", "model", "temperature", "max_tokens", "adapter", "n_ctx")
    described = {k: lm_cfg[k] for k in keep if k in lm_cfg}
    if not described and dspy.settings.lm is not None:
        described = {"model": getattr(dspy.settings.lm, "model", type(dspy.settings.lm).__name__)}
    return described


def _configure_lm(cfg: Mapping[str, Any]) -> None:
    from alamp.lm import LMConfig, configure_dspy
    from alamp.run import lm_settings

    configure_dspy(LMConfig.from_mapping(lm_settings(cfg)))


def artifact_name_of(cfg: Mapping[str, Any]) -> str:
    """The artifact's name: ``cfg.name``, else ``<pipeline>_<optimizer>__<lm slug>`` (the LM it is compiled for)."""
    if cfg.get("name"):
        return str(cfg["name"])
    optimizer = dict(cfg.get("optimizer") or {"name": "labeled"}).get("name", "labeled")
    model = _lm_description(cfg).get("model")
    return artifact_name(pipeline=_pipeline_name(cfg), optimizer=str(optimizer), model=model)


def _pipeline_name(cfg: Mapping[str, Any]) -> str:
    pipeline = cfg.get("pipeline", "alamp")
    if isinstance(pipeline, Mapping):
        pipeline = pipeline.get("name", "alamp")
    return str(pipeline)


def _settings_init(settings: Any) -> dict[str, Any]:
    """A settings dataclass as JSON that :func:`alamp.artifact.load_program` rebuilds (``__class__`` markers)."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        cls = type(settings)
        values = {f.name: _settings_init(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
        return {"__class__": f"{cls.__module__}:{cls.__qualname__}", **values}
    return settings


def build_student(cfg: Mapping[str, Any]) -> tuple[dspy.Module, dict[str, Any]]:
    """The program ``alamp.run`` would build from the same config (``pipeline``, ``coding``, knobs, ``program=``).

    Returns:
        The program and the JSON keyword arguments that rebuild its class on load (its ``ProgramSettings``).
    """
    from omegaconf import OmegaConf

    from alamp.run import build_program, settings_from_config

    node = OmegaConf.create(dict(cfg))
    return build_program(node), {"settings": _settings_init(settings_from_config(node))}


def _load_splits(cfg: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    from alamp.tasks import load_task, load_tasks

    splits = dict(cfg.get("splits") or {})
    ids = cfg.get("train_task_ids")
    train = [load_task(t) for t in ids] if ids else load_tasks(splits.get("train", "train"))
    dev_ids = cfg.get("dev_task_ids")
    dev = [load_task(t) for t in dev_ids] if dev_ids else load_tasks(splits.get("dev", "dev"))
    if cfg.get("max_train") is not None:
        train = train[: int(cfg["max_train"])]
    if cfg.get("max_dev") is not None:
        dev = dev[: int(cfg["max_dev"])]
    if not train:
        raise ValueError("no train tasks: check data/tasks and splits.train / train_task_ids")
    return train, dev


def build_metric(cfg: Mapping[str, Any], *, feedback: bool = False) -> Callable[..., Any]:
    """The policy-success metric with the compile trainer budget and the training cache wired into ``realize``."""
    from alamp.metric import make_dspy_metric
    from alamp.pipeline import realize
    from alamp.train_cache import TrainingCache

    trainer = dict(cfg.get("trainer") or {})
    overrides = dict(cfg.get("trainer_overrides") or {})
    if overrides:
        dqn = dict(trainer.get("dqn") or {})
        trainer["dqn"] = {**dqn, **overrides}
    cache_cfg = dict(cfg.get("train_cache") or {})
    cache = TrainingCache(
        Path(cache_cfg.get("dir") or cache_dir() / "training"), enabled=bool(cache_cfg.get("enabled", True))
    )
    # Hand realize whatever of (trainer config, training cache) it takes; the pipeline owns their meaning.
    params = inspect.signature(realize).parameters
    extra: dict[str, Any] = {}
    for key in ("trainer", "trainer_cfg"):
        if key in params:
            extra[key] = trainer
    for key in ("cache", "train_cache", "training_cache"):
        if key in params:
            extra[key] = cache
    bound = functools.partial(realize, **extra) if extra else realize
    grade_kwargs = {k: v for k, v in dict(cfg.get("metric") or {}).items() if v is not None}
    return make_dspy_metric(realize=bound, feedback=feedback, **grade_kwargs)


def _evaluate(
    program: dspy.Module, devset: Sequence[Any], metric: Callable[..., Any], *, table: bool
) -> tuple[float | None, dict[str, float]]:
    """Mean metric score on ``devset`` (DSPy's percentage) and the score of each task."""
    if not devset:
        return None, {}
    # num_threads=1: a metric call trains a policy; never overlap it with LLM calls or other training.
    evaluator = dspy.Evaluate(
        devset=list(devset),
        metric=metric,
        num_threads=1,
        display_progress=False,
        display_table=table,
        provide_traceback=True,
    )
    result = evaluator(program)
    per_task = {
        str(getattr(example, "task_id", i)): float(getattr(score, "score", score) or 0.0)
        for i, (example, _pred, score) in enumerate(getattr(result, "results", []) or [])
    }
    return float(getattr(result, "score", result)), per_task


def _usage_summary(tracker: Any) -> dict[str, Any]:
    totals = tracker.get_total_tokens() if tracker is not None else {}
    calls = sum(len(entries) for entries in getattr(tracker, "usage_data", {}).values())
    tokens = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for usage in totals.values():
        for key in tokens:
            tokens[key] += int(usage.get(key) or 0)
    return {"calls": calls, **tokens, "by_model": totals}


def compile_from_config(
    cfg: Mapping[str, Any],
    *,
    student: dspy.Module | None = None,
    program_init: Mapping[str, Any] | None = None,
    train_items: Sequence[Any] | None = None,
    dev_items: Sequence[Any] | None = None,
    to_example: Callable[[Any], dspy.Example] | None = None,
    metric: Callable[..., Any] | None = None,
    feedback_metric: Callable[..., Any] | None = None,
    configure_lm: bool = True,
    show_progress: bool | None = None,
) -> CompileResult:
    """Run one compile as ``conf/compile.yaml`` describes; every component can be injected (tests, notebooks).

    Args:
        cfg: The composed compile config (OmegaConf or plain mapping).
        student: The program to compile (default: built from ``cfg.pipeline``).
        program_init: Keyword arguments that rebuild ``student``'s class on load (recorded in the metadata).
        train_items: Train tasks (default: ``cfg.splits.train`` from data/tasks).
        dev_items: Dev tasks for the before/after scores.
        to_example: Task → ``dspy.Example`` (default: ``alamp.tasks.task_to_example``).
        metric: DSPy metric (default: the policy-success metric; not built when nothing needs it).
        feedback_metric: GEPA's feedback metric (default: the metric's feedback variant).
        configure_lm: Build and configure the LM from ``cfg.lm`` (off when the caller configured DSPy).
        show_progress: Rich progress display over metric calls (default: ``cfg.progress``).

    Returns:
        The compiled program and where it was saved (``save: false`` saves nothing).
    """
    cfg = _plain(cfg)
    start = time.perf_counter()
    optimizer_cfg = dict(cfg.get("optimizer") or {"name": "labeled"})
    optimizer_name = str(optimizer_cfg.get("name"))
    name = artifact_name_of(cfg)
    target_path = Path(cfg.get("artifacts_dir") or artifacts_dir()) / f"{name}.json"
    if cfg.get("save", True):  # before any LM call or training: a clash is known now
        check_can_write(target_path, overwrite=bool(cfg.get("overwrite", False)))
    evaluate_cfg = dict(cfg.get("evaluate") or {})
    lm_cache = configure_lm_cache(cfg.get("lm_cache"))

    if train_items is None or dev_items is None:
        loaded_train, loaded_dev = _load_splits(cfg)
        train_items = loaded_train if train_items is None else train_items
        dev_items = loaded_dev if dev_items is None else dev_items
    if to_example is None:
        from alamp.tasks import task_to_example as to_example
    trainset = [to_example(t) for t in train_items]
    devset = [to_example(t) for t in dev_items]
    if student is None:
        student, program_init = build_student(cfg)

    from alamp.optimizers import GOLD_DEMO_OPTIMIZERS, compile_program

    evaluates = bool(devset) and (evaluate_cfg.get("before", True) or evaluate_cfg.get("after", True))
    needs_metric = optimizer_name not in GOLD_DEMO_OPTIMIZERS or evaluates
    # Labeled demos without evaluation need no LM: do not start the local model server for nothing.
    if configure_lm and needs_metric and cfg.get("lm"):
        _configure_lm(cfg)
    if metric is None and needs_metric:
        metric = build_metric(cfg)
        if optimizer_name == "gepa" and feedback_metric is None:
            feedback_metric = build_metric(cfg, feedback=True)

    scores: dict[str, Any] = {"before": None, "after": None}
    settings = cfg.get("logger") or cfg.get("tracking") or {}
    tracker_run = Tracker.start(settings, config=cfg, job_type="compile", name=str(cfg.get("name") or "compile"))
    show = bool(cfg.get("progress", True)) if show_progress is None else show_progress
    progress = ProgressMetric(metric, show=show) if metric is not None else None
    with dspy.track_usage() as usage, tracker_run, progress or _Null():
        if progress is not None and devset and evaluate_cfg.get("before", True):
            progress.set_phase(f"evaluate dev before ({len(devset)} tasks)", total=len(devset))
            scores["before"], scores["per_task_before"] = _evaluate(
                student, devset, progress, table=bool(evaluate_cfg.get("table", False))
            )
        if progress is not None:
            # BootstrapFewShot runs the metric at most once per train task; other optimizers' counts are open-ended.
            bounded = len(trainset) if optimizer_name == "bootstrap" else None
            progress.set_phase(f"compile {optimizer_name} ({len(trainset)} train tasks)", total=bounded)
        outcome = compile_program(
            student,
            optimizer_cfg=optimizer_cfg,
            trainset=trainset,
            valset=devset or None,
            metric=progress,
            feedback_metric=ProgressMetric(feedback_metric, show=False) if feedback_metric else None,
            gold_items=trainset,
        )
        if progress is not None and devset and evaluate_cfg.get("after", True):
            progress.set_phase(f"evaluate dev after ({len(devset)} tasks)", total=len(devset))
            scores["after"], scores["per_task_after"] = _evaluate(
                outcome.program, devset, progress, table=bool(evaluate_cfg.get("table", False))
            )
        wall = time.perf_counter() - start
        metadata = {
            "name": name,
            "pipeline": _pipeline_name(cfg),
            "lm": _lm_description(cfg),
            "optimizer": {"name": optimizer_name, "config": optimizer_cfg},
            "trainer": cfg.get("trainer"),
            "trainer_overrides": cfg.get("trainer_overrides"),
            "tasks": {
                "train": [getattr(e, "task_id", None) for e in trainset],
                "dev": [getattr(e, "task_id", None) for e in devset],
            },
            "scores": {
                **scores,
                "metric": "dev mean of alamp.metric.metric_score x 100 "
                "(0.25 modeled + 0.25 coded + 0.5 clip(normalized_return, 0, 1))",
            },
            "wall_time_s": round(wall, 2),
            "lm_usage": _usage_summary(usage),
            "metric_calls": progress.calls if progress is not None else 0,
            "compile_info": outcome.info,
            "lm_cache_dir": str(lm_cache) if lm_cache else None,
        }
        tracker_run.log({"score_before": scores["before"], "score_after": scores["after"], "wall_time_s": wall})
        tracker_run.log_config({"compile_metadata": metadata})

    program_path = meta_path = None
    if cfg.get("save", True):
        program_path, meta_path = save_program(
            outcome.program,
            path=target_path,
            metadata=metadata,
            program_init=program_init,
        )
        log.info("saved %s and %s", program_path, meta_path)
    return CompileResult(program=outcome.program, program_path=program_path, meta_path=meta_path, metadata=metadata)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    """Hydra entry point (``python -m alamp.compile`` / ``alamp-compile``)."""
    import hydra
    from omegaconf import DictConfig

    @hydra.main(config_path=str(conf_dir()), config_name="compile", version_base="1.3")
    def _run(cfg: DictConfig) -> None:
        try:
            result = compile_from_config(cfg)
        except ArtifactExistsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(ExitCode.BAD_INPUT) from None
        meta = result.metadata
        print(f"compiled {meta['pipeline']} with {meta['optimizer']['name']} in {meta['wall_time_s']:.1f} s")
        print(f"dev score before: {meta['scores']['before']}  after: {meta['scores']['after']}")
        print(f"LM calls: {meta['lm_usage']['calls']}  tokens: {meta['lm_usage']['total_tokens']}")
        if result.program_path:
            print(f"program: {result.program_path}\nmetadata: {result.meta_path}")

    _run()


if __name__ == "__main__":
    main()
