"""Optuna tuning of the DQN training stage: one resumable study per environment.

TPE proposes hyperparameters from the search space in ``conf/trainer/tuner/default.yaml``; every periodic
evaluation of :func:`alamp.rl.train_dqn` is reported to the trial so the median pruner can stop hopeless trials
early. Storage is any SQLAlchemy URL (a SQLite file in the output folder by default, PostgreSQL for several
machines); the study is loaded if it exists, and heartbeats let a resumed study mark trials whose process died
as FAIL. The best hyperparameters (JSON) and the table of trials (CSV) are written to the output folder.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from alamp.rl import DQNConfig, TrainResult, train_dqn
from alamp.rl.vec import EnvSource, VecEnvFactory

__all__ = [
    "BEST_PARAMS_FILE",
    "PRUNERS",
    "SAMPLERS",
    "TRIALS_FILE",
    "TuneResult",
    "make_pruner",
    "make_sampler",
    "public_storage_url",
    "suggest_params",
    "tune_dqn",
]

BEST_PARAMS_FILE = "best_params.json"
TRIALS_FILE = "trials.csv"

_DEFAULT_TUNER: dict[str, Any] = {
    "study_name": None,
    "storage": None,
    "n_trials": 20,
    "total_trials": None,
    "timeout": None,
    "seed": 0,
    "objective": "auc",
    "heartbeat_interval": 30,
    "grace_period": None,
    "retry_failed_trials": 0,
    "enqueue_base": False,
    "sampler": {"name": "tpe", "n_startup_trials": 8},
    "pruner": {"name": "median", "n_startup_trials": 4, "n_warmup_steps": 0, "interval_steps": 1},
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
        trials_run: Trials this call ran (0 when a resumed study already had its ``total_trials``).
        best_trial: The best trial's number (``None`` if no trial completed).
        importance: fANOVA importance per parameter (empty with fewer than 4 complete trials).
        best_attrs: The best trial's user attributes (``solved``, ``steps``, ``cpu_seconds``, ``best_eval_mean``).
    """

    study_name: str
    storage: str
    best_params: dict[str, Any]
    best_value: float
    best_config: DQNConfig
    trial_counts: dict[str, int]
    output_dir: Path
    trials_run: int = 0
    best_trial: int | None = None
    importance: dict[str, float] = field(default_factory=dict)
    best_attrs: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``alamp.run`` writes to ``run.json`` as ``training.study``).

        Keys: ``study_name``, ``storage`` (password masked), ``trials`` (per state, plus ``total`` and ``run`` =
        this call), ``best_value`` (``None`` if none completed), ``best_trial``, ``best_params``, ``importance``.
        """
        value = self.best_value if self.best_value == self.best_value else None
        return {
            "study_name": self.study_name,
            "storage": public_storage_url(self.storage),
            "trials": {**self.trial_counts, "total": sum(self.trial_counts.values()), "run": self.trials_run},
            "best_value": value,
            "best_trial": self.best_trial,
            "best_params": dict(self.best_params),
            "importance": dict(self.importance),
        }


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


#: ``sampler.name`` / ``pruner.name`` values and the Optuna classes they build (the other keys are their arguments).
SAMPLERS: dict[str, str] = {"tpe": "TPESampler", "random": "RandomSampler", "qmc": "QMCSampler",
                            "gp": "GPSampler", "cmaes": "CmaEsSampler"}
PRUNERS: dict[str, str] = {"median": "MedianPruner", "percentile": "PercentilePruner",
                           "successive_halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner",
                           "threshold": "ThresholdPruner", "nop": "NopPruner"}


def make_sampler(settings: Mapping[str, Any] | None, *, seed: int | None) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of a ``sampler:`` block: ``name`` (default ``tpe``, see :data:`SAMPLERS`) plus its arguments.

    Raises:
        ValueError: The name is unknown (the message lists the known ones).
    """
    options = dict(settings or {})
    name = str(options.pop("name", "tpe"))
    if name not in SAMPLERS:
        raise ValueError(f"trainer.tuner.sampler.name={name!r} is unknown; use one of {sorted(SAMPLERS)}")
    cls = getattr(optuna.samplers, SAMPLERS[name])
    if "seed" in inspect.signature(cls).parameters and "seed" not in options:
        options["seed"] = seed
    return cls(**options)


def make_pruner(settings: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """The Optuna pruner of a ``pruner:`` block: ``name`` (default ``median``, see :data:`PRUNERS`) plus its arguments.

    Raises:
        ValueError: The name is unknown (the message lists the known ones).
    """
    options = dict(settings or {})
    name = str(options.pop("name", "median"))
    if name not in PRUNERS:
        raise ValueError(f"trainer.tuner.pruner.name={name!r} is unknown; use one of {sorted(PRUNERS)}")
    return getattr(optuna.pruners, PRUNERS[name])(**options)


def public_storage_url(url: str) -> str:
    """The storage URL with any password masked (safe to write into run.json or a log)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL (e.g. a journal file path): nothing to hide
        return url


def _open_storage(url: str, *, attempts: int = 5, **options: Any) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage; retried when workers started together race to create the schema of a fresh database
    (PostgreSQL refuses the second ``CREATE TYPE``/``CREATE TABLE`` with an integrity error)."""
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in optuna, but what resuming needs
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **options)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _retry_option(retries: int) -> dict[str, Any]:
    """The storage option that re-queues a trial whose worker died (its heartbeat went stale) ``retries`` times.

    Optuna >= 4.9 names it ``heartbeat_stale_trial_callback``; older releases ``failed_trial_callback``.
    """
    if not retries:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
            return {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=retries)}
        return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=retries)}


def _finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                        optuna.trial.TrialState.PRUNED)))


def _importance(study: optuna.Study) -> dict[str, float]:
    """fANOVA parameter importances when there are enough complete trials to say anything (else empty)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 4:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study)
    except Exception:  # too few distinct values, a parameter seen in one trial only: importance is optional
        return {}
    return {name: round(float(value), 4) for name, value in importances.items()}


def _base_params(base_config: DQNConfig, search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The base config's values of the searched fields that lie inside the search space (for ``enqueue_base``)."""
    params: dict[str, Any] = {}
    for name, spec in search_space.items():
        value = getattr(base_config, name)
        if spec.get("type") == "categorical":
            if value in list(spec["choices"]):
                params[name] = value
        elif float(spec["low"]) <= value <= float(spec["high"]):
            params[name] = value
    return params


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
        tuner_config: The ``tuner`` block of ``conf/trainer/*.yaml`` (study_name, storage, n_trials,
            total_trials, timeout, seed, objective, heartbeat_interval, grace_period, retry_failed_trials,
            enqueue_base, sampler, pruner, search_space; see ``conf/trainer/tuner/default.yaml``).
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
    sampler = make_sampler(settings["sampler"], seed=settings["seed"])
    pruner = make_pruner(settings["pruner"])
    base_config = base_config or DQNConfig()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    storage_url = settings["storage"] or f"sqlite:///{(output_dir / 'optuna.db').resolve()}"
    study_name = settings["study_name"] or _study_name(make_env)
    heartbeat = int(settings["heartbeat_interval"])
    retries = int(settings["retry_failed_trials"] or 0)
    storage = _open_storage(
        storage_url,
        heartbeat_interval=heartbeat,
        grace_period=int(settings["grace_period"]) if settings["grace_period"] is not None else 2 * heartbeat,
        **_retry_option(retries),
    )
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        sampler=sampler,
        pruner=pruner,
    )
    # A resumed study may hold trials of a process that died: mark them FAIL now (optuna also does this before
    # each new trial, but not when no new trial runs).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    before = len(study.get_trials(deepcopy=False))
    if settings["enqueue_base"] and not before:
        # The untuned config is the first trial: the study's best is then never worse than the default it replaces.
        study.enqueue_trial(_base_params(base_config, settings["search_space"]), skip_if_exists=True)

    started: list[int] = []  # trials this call ran (other workers may add to the same study meanwhile)

    def objective(trial: optuna.Trial) -> float:
        started.append(trial.number)
        params = suggest_params(trial, settings["search_space"])
        config = base_config.replace(**params)

        def report(step: int, eval_mean: float) -> bool:
            trial.report(eval_mean, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} with evaluation mean {eval_mean:.3f}")
            return True

        result = train_dqn(config=config, make_env=make_env, make_vec_env=make_vec_env,
                           eval_make_env=eval_make_env, callback=report)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which process ran it (shared studies)
        trial.set_user_attr("solved", result.solved)
        trial.set_user_attr("steps", result.steps)
        trial.set_user_attr("cpu_seconds", round(result.cpu_seconds, 3))
        trial.set_user_attr("best_eval_mean", result.best_eval_mean)
        return _objective_value(result, config=config, objective=settings["objective"])

    # n_trials: at most this many in this call; total_trials: the study's own target, counted over every worker
    # and every earlier call (finished = complete or pruned), so a rerun resumes instead of repeating the study.
    n_trials = None if settings["n_trials"] is None else int(settings["n_trials"])
    callbacks = []
    if settings["total_trials"] is not None:
        total = int(settings["total_trials"])
        remaining = max(0, total - _finished(study))
        n_trials = remaining if n_trials is None else min(n_trials, remaining)
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        callbacks.append(optuna.study.MaxTrialsCallback(total, states=states))
    if n_trials is None or n_trials > 0:
        study.optimize(objective, n_trials=n_trials, timeout=settings["timeout"], catch=(), callbacks=callbacks)
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
        trials_run=len(started),
        best_trial=study.best_trial.number if has_complete else None,
        importance=_importance(study) if has_complete else {},
        best_attrs=dict(study.best_trial.user_attrs) if has_complete else {},
    )
