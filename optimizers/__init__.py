"""Optimizers (installed as ``alamp.optimizers``): the Optuna tuner of the training stage, DSPy prompt optimizers
built from config (``conf/optimizer/*.yaml``) and per-agent labeled demos from the tasks' gold outputs."""

from alamp.optimizers.demos import PerAgentLabeledFewShot, gold_record
from alamp.optimizers.factory import (
    GOLD_DEMO_OPTIMIZERS,
    OPTIMIZERS,
    CompileOutcome,
    OptimizerConfigError,
    build_optimizer,
    compile_program,
)
from alamp.optimizers.tuner import (
    PRUNERS,
    SAMPLERS,
    TuneResult,
    make_pruner,
    make_sampler,
    public_storage_url,
    suggest_params,
    tune_dqn,
)

__all__ = [
    "GOLD_DEMO_OPTIMIZERS",
    "OPTIMIZERS",
    "CompileOutcome",
    "OptimizerConfigError",
    "PRUNERS",
    "PerAgentLabeledFewShot",
    "SAMPLERS",
    "TuneResult",
    "build_optimizer",
    "compile_program",
    "gold_record",
    "make_pruner",
    "make_sampler",
    "public_storage_url",
    "suggest_params",
    "tune_dqn",
]
