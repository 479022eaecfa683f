"""Optuna tuning of the DQN training stage: one resumable study per environment.

TPE proposes hyperparameters from the search space in ``conf/trainer/tuner/default.yaml``; every periodic
evaluation of :func:`alamp.rl.train_dqn` is reported to the trial so the median pruner can stop hopeless trials
early. Storage is any SQLAlchemy URL (a SQLite file in the output folder by default, PostgreSQL for several
machines); the study is loaded if it exists, and heartbeats let a resumed study mark trials whose process died
as FAIL. The best hyperparameters (JSON) and the table of trials (CSV) are written to the output folder.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from alamp.rl import DQNConfig, TrainResult, train_dqn
from alamp.rl.vec import EnvSource, VecEnvFactory

__all__ = ["TuneResult", "tune_dqn", "suggest_params", "BEST_PARAMS_FILE", "TRIALS_FILE"]

BEST_PARAMS_FILE = "best_params.json"
TRIALS_FILE = "trials.csv"

_DEFAULT_TUNER: dict[str, Any] = {
    "study_name": None,
    "storage": None,
    "n_trials": 20,
    "timeout": None,
    "seed": 0,
    "objective": "auc",
    "heartbeat_interval": 30,
    "grace_period": None,
    "sampler": {"n_startup_trials": 8},
    "pruner": {"n_startup_trials": 4, "n_warmup_steps": 0, "interval_steps": 1},
    "search_space": {},
}


@dataclass(frozen=True)
class TuneResult:
    """The outcome of :func:`tune_dqn`.

    Attributes:
        study_name: The Optuna study's name.
        storage: The storage URL.
        best_params: The best trial's sampled hyperparameters (empty if no trial completed).
        best_value: Its objective value (``nan`` if no trial completed).
        best_config: The base config with the best parameters applied (the base config if none completed).
        trial_counts: Number of trials per state (``COMPLETE``, ``PRUNED``, ``FAIL``, ...), whole study.
        output_dir: Where ``best_params.json`` and ``trials.csv`` were written.
    """

    study_name: str
    storage: str
    best_params: dict[str, Any]
    best_value: float
    best_config: DQNConfig
    trial_counts: dict[str, int]
    output_dir: Path


def suggest_params(trial: optuna.Trial, search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Sample one value per search-space entry.

    Args:
        trial: The Optuna trial.
        search_space: ``name -> {type: float|int, low, high, log?}`` or ``name -> {type: categorical, choices}``;
            names are :class:`alamp.rl.DQNConfig` fields.

    Raises:
        ValueError: An entry has an unknown type or names no DQNConfig field.
    """
    fields = set(DQNConfig.__dataclass_fields__)
    params: dict[str, Any] = {}
    for name, spec in search_space.items():
        if name not in fields:
            raise ValueError(f"search space entry {name!r} is not a DQNConfig field; valid fields: {sorted(fields)}")
        kind = spec.get("type")
        if kind == "float":
            params[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                               log=bool(spec.get("log", False)))
        elif kind == "int":
            params[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]),
                                             log=bool(spec.get("log", False)))
        elif kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        else:
            raise ValueError(f"search space entry {name!r} has type {kind!r}; use float, int or categorical")
    return params


def _objective_value(result: TrainResult, *, config: DQNConfig, objective: str) -> float:
    """``best``: best evaluation mean. ``auc``: mean evaluation over the planned evaluation points, where the points
    after an early stop at the threshold count the last value (so solving early scores at least as well)."""
    means = [row["eval_mean"] for row in result.curve]
    if objective == "best":
        return max(means)
    if objective != "auc":
        raise ValueError(f"tuner objective {objective!r} is unknown; use 'auc' or 'best'")
    every = config.eval_every if config.eval_every > 0 else config.total_timesteps
    planned = max(len(means), math.ceil(config.total_timesteps / every))
    return (sum(means) + means[-1] * (planned - len(means))) / planned


def _study_name(make_env: EnvSource) -> str:
    if isinstance(make_env, str):
        return f"dqn-{make_env}"
    return f"dqn-{getattr(make_env, '__name__', 'env')}"


def _write_outputs(study: optuna.Study, output_dir: Path, best_config: DQNConfig) -> None:
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    summary: dict[str, Any] = {
        "study_name": study.study_name,
        "n_trials": len(trials),
        "best_value": study.best_value if complete else None,
        "best_params": study.best_params if complete else {},
        "best_trial": study.best_trial.number if complete else None,
        "best_config": best_config.to_dict(),
    }
    (output_dir / BEST_PARAMS_FILE).write_text(json.dumps(summary, indent=2) + "\n")

    param_names = sorted({name for t in trials for name in t.params})
    attr_names = sorted({name for t in trials for name in t.user_attrs})
    with (output_dir / TRIALS_FILE).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", "datetime_start", "datetime_complete", "duration_s",
                         *(f"params_{n}" for n in param_names), *(f"user_attrs_{n}" for n in attr_names)])
        for t in trials:
            duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and \
                t.datetime_start else None
            writer.writerow([t.number, t.state.name, t.value, t.datetime_start, t.datetime_complete, duration,
                             *(t.params.get(n) for n in param_names), *(t.user_attrs.get(n) for n in attr_names)])


def tune_dqn(
    *,
    make_env: EnvSource,
    output_dir: str | Path,
    base_config: DQNConfig | None = None,
    tuner_config: Mapping[str, Any] | None = None,
    make_vec_env: VecEnvFactory | None = None,
    eval_make_env: EnvSource | None = None,
    **overrides: Any,
) -> TuneResult:
    """Tune the DQN's hyperparameters for one environment with Optuna (resumable).

    Args:
        make_env: A gymnasium id or a zero-argument env factory (as for :func:`alamp.rl.train_dqn`).
        output_dir: Run folder: receives ``best_params.json``, ``trials.csv`` and, by default, ``optuna.db``.
        base_config: Config the sampled parameters are applied to (budgets, threshold, seed); default ``DQNConfig()``.
        tuner_config: The ``tuner`` block of ``conf/trainer/*.yaml`` (study_name, storage, n_trials, timeout,
            seed, objective, heartbeat_interval, grace_period, sampler, pruner, search_space).
        make_vec_env: Optional vector-env factory, passed to :func:`alamp.rl.train_dqn`.
        eval_make_env: Optional evaluation environment, passed to :func:`alamp.rl.train_dqn`.
        **overrides: Keys of the tuner block given directly (e.g. ``n_trials=5, storage="sqlite:///x.db"``).

    Returns:
        The best parameters and config, and the number of trials per state.
    """
    settings = {**_DEFAULT_TUNER, **dict(tuner_config or {}), **overrides}
    unknown = sorted(set(settings) - set(_DEFAULT_TUNER))
    if unknown:
        raise ValueError(f"unknown tuner setting(s) {unknown}; valid settings: {sorted(_DEFAULT_TUNER)}")
    fields = set(DQNConfig.__dataclass_fields__)
    bad_names = sorted(set(settings["search_space"]) - fields)
    if bad_names:  # before any storage work, so a typo fails fast
        raise ValueError(f"search space entries {bad_names} are not DQNConfig fields; valid fields: {sorted(fields)}")
    base_config = base_config or DQNConfig()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    storage_url = settings["storage"] or f"sqlite:///{(output_dir / 'optuna.db').resolve()}"
    study_name = settings["study_name"] or _study_name(make_env)
    heartbeat = int(settings["heartbeat_interval"])
    with warnings.catch_warnings():  # heartbeats are "experimental" in optuna, but exactly what resuming needs
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            storage_url,
            heartbeat_interval=heartbeat,
            grace_period=int(settings["grace_period"]) if settings["grace_period"] is not None else 2 * heartbeat,
        )
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=settings["seed"], **dict(settings["sampler"])),
        pruner=optuna.pruners.MedianPruner(**dict(settings["pruner"])),
    )
    # A resumed study may hold trials of a process that died: mark them FAIL now (optuna also does this before
    # each new trial, but not when no new trial runs).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, settings["search_space"])
        config = base_config.replace(**params)

        def report(step: int, eval_mean: float) -> bool:
            trial.report(eval_mean, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} with evaluation mean {eval_mean:.3f}")
            return True

        result = train_dqn(config=config, make_env=make_env, make_vec_env=make_vec_env,
                           eval_make_env=eval_make_env, callback=report)
        trial.set_user_attr("solved", result.solved)
        trial.set_user_attr("steps", result.steps)
        trial.set_user_attr("cpu_seconds", round(result.cpu_seconds, 3))
        trial.set_user_attr("best_eval_mean", result.best_eval_mean)
        return _objective_value(result, config=config, objective=settings["objective"])

    if settings["n_trials"] is None or int(settings["n_trials"]) > 0:
        study.optimize(objective, n_trials=settings["n_trials"], timeout=settings["timeout"], catch=())

    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    has_complete = counts.get("COMPLETE", 0) > 0
    best_params = dict(study.best_params) if has_complete else {}
    best_config = base_config.replace(**best_params)
    _write_outputs(study, output_dir, best_config)
    return TuneResult(
        study_name=study_name,
        storage=storage_url,
        best_params=best_params,
        best_value=float(study.best_value) if has_complete else float("nan"),
        best_config=best_config,
        trial_counts=counts,
        output_dir=output_dir,
    )
