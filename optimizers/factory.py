"""Build a DSPy optimizer from its config (``conf/optimizer/<name>.yaml``) and compile a program with it.

Each optimizer config has the same shape::

    name: bootstrap           # one of OPTIMIZERS
    init: {...}               # constructor keyword arguments of the DSPy class (its knobs)
    compile: {...}            # extra keyword arguments of its compile()
    labeled_topup: {k: 1}     # optional: give gold demos to predictors the optimizer left without any

``labeled`` is alamp's :class:`~alamp.optimizers.demos.PerAgentLabeledFewShot` (gold demos per agent, no LLM
calls); ``nearest`` is the same with every train task's demo kept and the nearest ones to each description used
(``alamp.nearest_demos``); the others are DSPy's teleprompters: ``bootstrap`` (BootstrapFewShot), ``random_search``
(BootstrapFewShotWithRandomSearch), ``mipro`` (MIPROv2), ``gepa`` (GEPA, with the metric's feedback variant),
``simba`` (SIMBA).

Evaluation inside optimizers is forced sequential (``num_threads=1``): on the 2-core machine a metric call trains
a policy, and LLM calls and training must never run at the same time.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dspy

from alamp.optimizers.demos import PerAgentLabeledFewShot

__all__ = [
    "GOLD_DEMO_OPTIMIZERS",
    "OPTIMIZERS",
    "OptimizerConfigError",
    "CompileOutcome",
    "build_optimizer",
    "compile_program",
]

log = logging.getLogger(__name__)

#: Optimizers that only copy gold outputs into demos: no metric, no LM call.
GOLD_DEMO_OPTIMIZERS: tuple[str, ...] = ("labeled", "nearest")
OPTIMIZERS: tuple[str, ...] = ("labeled", "nearest", "bootstrap", "random_search", "mipro", "gepa", "simba")


class OptimizerConfigError(ValueError):
    """An optimizer config names an unknown optimizer or a knob its class does not take."""


@dataclass
class CompileOutcome:
    """The compiled program and what the optimizer reported (demo counts per predictor, labeled top-ups)."""

    program: dspy.Module
    optimizer: str
    info: dict[str, Any] = field(default_factory=dict)


def _plain(cfg: Any) -> dict[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover
        pass
    return dict(cfg or {})


def _dspy_class(name: str) -> type:
    from dspy.teleprompt import (
        GEPA,
        SIMBA,
        BootstrapFewShot,
        BootstrapFewShotWithRandomSearch,
        MIPROv2,
    )

    return {
        "bootstrap": BootstrapFewShot,
        "random_search": BootstrapFewShotWithRandomSearch,
        "mipro": MIPROv2,
        "gepa": GEPA,
        "simba": SIMBA,
    }[name]


def _check_knobs(cls: type, kwargs: Mapping[str, Any], *, where: str, name: str) -> None:
    params = inspect.signature(cls).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        known = sorted(k for k in params if k not in {"self", "metric"})
        raise OptimizerConfigError(
            f"optimizer {name!r}: {where} has unknown knob(s) {unknown}; {cls.__name__} takes {known} "
            f"(fix conf/optimizer/{name}.yaml or the override)"
        )


def _gepa_metric(metric: Callable[..., Any]) -> Callable[..., Any]:
    """Adapt a metric to GEPA's five-argument protocol ``(gold, pred, trace, pred_name, pred_trace)``."""
    try:
        inspect.signature(metric).bind(None, None, None, None, None)
        return metric
    except TypeError:
        pass

    def feedback_metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        return metric(gold, pred, trace)

    return feedback_metric


def build_optimizer(
    cfg: Mapping[str, Any],
    *,
    metric: Callable[..., Any] | None = None,
    feedback_metric: Callable[..., Any] | None = None,
    reflection_lm: dspy.LM | None = None,
) -> Any:
    """Build the optimizer an ``optimizer`` config describes.

    Args:
        cfg: The optimizer config (``name``, ``init``, ``compile``, ``labeled_topup``).
        metric: The DSPy metric ``(example, pred, trace=None)``; required by all but ``labeled``.
        feedback_metric: GEPA's metric returning a score with textual feedback (default: ``metric``, adapted).
        reflection_lm: GEPA's / SIMBA's proposer LM (default: ``init.reflection_lm`` is ignored as a string and the
            configured ``dspy.settings.lm`` is used).

    Returns:
        An object with a DSPy-style ``compile(student, *, trainset, ...)``.

    Raises:
        OptimizerConfigError: Unknown optimizer, unknown knob, or a missing metric.
    """
    cfg = _plain(cfg)
    name = str(cfg.get("name", ""))
    if name not in OPTIMIZERS:
        raise OptimizerConfigError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)} (optimizer=NAME)")
    init = dict(cfg.get("init") or {})
    if name in GOLD_DEMO_OPTIMIZERS:
        _check_knobs(PerAgentLabeledFewShot, init, where="init", name=name)
        if name == "nearest":
            init["select"] = "nearest"
        return PerAgentLabeledFewShot(**init)
    if metric is None:
        raise OptimizerConfigError(f"optimizer {name!r} needs a metric; only 'labeled' and 'nearest' work without one")

    cls = _dspy_class(name)
    params = inspect.signature(cls).parameters
    if "num_threads" in params:
        # Metric calls train policies; never overlap them with each other or with LLM calls on this machine.
        if init.get("num_threads") not in (None, 1):
            log.warning("optimizer %s: num_threads=%s ignored; evaluation is sequential", name, init["num_threads"])
        init["num_threads"] = 1
    lm_default = reflection_lm or dspy.settings.lm
    if name == "gepa":
        init.pop("reflection_lm", None)
        _check_knobs(cls, init, where="init", name=name)
        if lm_default is None:
            raise OptimizerConfigError("optimizer 'gepa' needs a reflection LM: configure an LM (lm=...) first")
        return cls(metric=_gepa_metric(feedback_metric or metric), reflection_lm=lm_default, **init)
    if name == "simba":
        init.pop("prompt_model", None)
        _check_knobs(cls, init, where="init", name=name)
        return cls(metric=metric, prompt_model=reflection_lm, **init)
    _check_knobs(cls, init, where="init", name=name)
    return cls(metric=metric, **init)


def _compile_kwargs(name: str, optimizer: Any, cfg: Mapping[str, Any], *, trainset: list, valset: list | None) -> dict:
    kwargs: dict[str, Any] = dict(cfg.get("compile") or {})
    params = inspect.signature(optimizer.compile).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise OptimizerConfigError(
            f"optimizer {name!r}: compile has unknown knob(s) {unknown}; {type(optimizer).__name__}.compile takes "
            f"{sorted(k for k in params if k not in {'self', 'student'})}"
        )
    kwargs["trainset"] = trainset
    if valset is not None and "valset" in params:
        kwargs["valset"] = valset
    return kwargs


def compile_program(
    student: dspy.Module,
    *,
    optimizer_cfg: Mapping[str, Any],
    trainset: Sequence[dspy.Example],
    valset: Sequence[dspy.Example] | None = None,
    metric: Callable[..., Any] | None = None,
    feedback_metric: Callable[..., Any] | None = None,
    gold_items: Sequence[Any] | None = None,
) -> CompileOutcome:
    """Compile ``student`` with the optimizer ``optimizer_cfg`` describes.

    Args:
        student: The uncompiled program (left untouched; the optimizers work on copies).
        optimizer_cfg: ``conf/optimizer/<name>.yaml`` content.
        trainset: Training examples (whole-pipeline examples: description in, gold outputs attached).
        valset: Validation examples for optimizers that take one (random_search, mipro, gepa).
        metric: DSPy metric; not needed for ``labeled``.
        feedback_metric: GEPA's feedback metric.
        gold_items: Tasks (or examples) whose gold outputs make per-agent labeled demos (default: ``trainset``).

    Returns:
        The outcome: compiled program, optimizer name and info (demos per predictor, labeled report).
    """
    cfg = _plain(optimizer_cfg)
    name = str(cfg.get("name", ""))
    optimizer = build_optimizer(cfg, metric=metric, feedback_metric=feedback_metric)
    trainset = list(trainset)
    gold = list(gold_items) if gold_items is not None else trainset
    info: dict[str, Any] = {}
    if name in GOLD_DEMO_OPTIMIZERS:
        program = optimizer.compile(student, trainset=gold)
        info["labeled"] = optimizer.report
    else:
        if name == "simba" and "bsize" in cfg.get("init", {}) and len(trainset) < int(cfg["init"]["bsize"]):
            # SIMBA asserts len(trainset) >= bsize; a tiny train split (debug runs) gets a smaller batch.
            optimizer.bsize = len(trainset)
        kwargs = _compile_kwargs(name, optimizer, cfg, trainset=trainset, valset=list(valset) if valset else None)
        program = optimizer.compile(student, **kwargs)
        topup = cfg.get("labeled_topup")
        if topup:
            # Small models often bootstrap no successful trace for an agent; gold demos beat an empty prompt.
            filler = PerAgentLabeledFewShot(**{**dict(topup), "only_empty": True})
            program = filler.compile(program, trainset=gold, copy=False)
            info["labeled_topup"] = filler.report
    info["demos_per_predictor"] = {n: len(p.demos) for n, p in program.named_predictors()}
    return CompileOutcome(program=program, optimizer=name, info=info)
