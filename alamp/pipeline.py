"""From a program's prediction to a trained policy and a verdict.

``realize(example, pred)`` is what both ``alamp.run`` and the compile metric call: it builds the environment the
prediction describes, trains a DQN policy on it and returns a ``RunOutcome`` for ``alamp.metric.grade``.

- compiler route: the spec is compiled by ``alamp.spec`` and trained in-process on its numpy-batched vector env
  (no generated code runs);
- llm route: the generated code never runs in this process, so training runs in a sandboxed child too; the child
  saves the policy with ``QPolicy.save`` and this process loads the weights (``torch.load(weights_only=True)``).

Training results are cached by environment and trainer configuration when a ``TrainingCache`` is passed, so an
unchanged candidate is never retrained while compiling.

With ``trainer.tune`` (``trainer=tune``) the training stage is an Optuna study first (:func:`tune_and_train`): pruned
trials on the generated environment, keyed by the spec's hash and the trainer config so that a rerun resumes the
study, then the best configuration trains the final policy with the run's seed; the study's summary goes to the
training result as ``study``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alamp.executor import GENERATED_MODULE
from alamp.sandbox import SandboxLimits, run_in_sandbox

__all__ = [
    "DEFAULT_TRAIN_LIMITS",
    "dqn_config",
    "env_source",
    "grade_prediction",
    "realize",
    "study_key",
    "train_and_grade",
    "train_policy",
    "tune_and_train",
]

log = logging.getLogger(__name__)

DEFAULT_TRAIN_LIMITS = SandboxLimits(timeout_s=3600, memory_mb=6144, file_size_mb=256)
POLICY_DIR = "policy"

_TRAIN_TASK = """
def main(payload):
    from alamp.executor import load_env_class
    from alamp.rl import DQNConfig, train_dqn

    env_class = load_env_class(payload["module"])
    result = train_dqn(config=DQNConfig.from_dict(payload["dqn"]), make_env=env_class)
    result.policy.save(payload["policy_dir"])
    return {"curve": result.curve, "solved": result.solved, "steps": result.steps, "episodes": result.episodes,
            "wall_seconds": result.wall_seconds, "best_eval_mean": result.best_eval_mean,
            "threshold": result.threshold, "stopped_by": result.stopped_by}
"""


def dqn_config(trainer: Mapping[str, Any] | None, *, seed: int | None = None) -> Any:
    """The ``DQNConfig`` of a trainer config (its ``dqn`` block, or the mapping itself), with ``seed`` applied."""
    from alamp.rl import DQNConfig, load_trainer_config

    trainer = dict(trainer) if trainer is not None else load_trainer_config("default")
    block = dict(trainer.get("dqn", trainer))
    config = DQNConfig.from_dict(block)
    return config.replace(seed=seed) if seed is not None else config


def env_source(pred: Any) -> str | None:
    """What determines the environment (spec JSON or code): the training cache key's environment part."""
    if getattr(pred, "coding_path", None) == "compiler" and getattr(pred, "env_spec", None) is not None:
        return pred.env_spec.model_dump_json()
    if getattr(pred, "coding_path", None) == "llm" and getattr(pred, "code", None):
        return str(pred.code)
    return None


def _jsonable_float(value: Any) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def train_policy(
    *,
    pred: Any,
    dqn: Any,
    out_dir: Path,
    train_limits: SandboxLimits | None = None,
) -> dict[str, Any]:
    """Train a DQN on the prediction's environment; the policy goes to ``out_dir/policy``.

    Args:
        pred: A program prediction whose environment passed its checks.
        dqn: The ``DQNConfig``.
        out_dir: Where the policy, ``curve.json`` and ``curve.png`` go.
        train_limits: Sandbox limits for training generated code (llm route).

    Returns:
        ``trained``, ``solved``, ``curve``, ``steps``, ``episodes``, ``wall_seconds``, ``best_eval_mean``,
        ``threshold``, ``policy_dir``, ``route`` and ``error`` (empty when trained).
    """
    from alamp.rl import save_learning_curve

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy_dir = out_dir / POLICY_DIR
    route = getattr(pred, "coding_path", None)
    start = time.perf_counter()
    result: dict[str, Any] = {"trained": False, "route": route, "policy_dir": str(policy_dir), "error": "",
                              "curve": [], "policy_config": dqn.to_dict()}
    if route == "compiler":
        from alamp.rl import train_dqn
        from alamp.spec import compile_spec

        compiled = compile_spec(pred.env_spec)
        try:
            trained = train_dqn(config=dqn, make_env=compiled.make_env, make_vec_env=compiled.make_vec)
        except Exception as exc:  # a spec that checks but breaks training is a finding for the verdict
            result["error"] = f"training failed: {type(exc).__name__}: {exc}"
            return result
        trained.policy.save(policy_dir)
        result.update(trained=True, curve=trained.curve, solved=trained.solved, steps=trained.steps,
                      episodes=trained.episodes, wall_seconds=trained.wall_seconds,
                      best_eval_mean=_jsonable_float(trained.best_eval_mean), threshold=trained.threshold,
                      stopped_by=trained.stopped_by)
    elif route == "llm":
        sandboxed = run_in_sandbox(
            task_source=_TRAIN_TASK,
            payload={"module": GENERATED_MODULE, "dqn": dqn.to_dict(), "policy_dir": POLICY_DIR},
            files={GENERATED_MODULE: pred.code},
            limits=train_limits or DEFAULT_TRAIN_LIMITS,
            collect={POLICY_DIR: policy_dir},
        )
        if not sandboxed.ok or POLICY_DIR not in sandboxed.collected:
            result["error"] = f"training in the sandbox failed: {sandboxed.error[-3000:]}"
            return result
        report = sandboxed.report or {}
        result.update(trained=True, **{k: report.get(k) for k in ("curve", "solved", "steps", "episodes",
                                                                  "wall_seconds", "threshold", "stopped_by")})
        result["best_eval_mean"] = _jsonable_float(report.get("best_eval_mean"))
    else:
        result["error"] = "no environment passed its checks; nothing to train"
        return result
    result["seconds"] = round(time.perf_counter() - start, 3)
    if result["curve"]:
        try:
            save_learning_curve(result["curve"], out_dir / "curve.png", out_dir / "curve.json",
                                threshold=result.get("threshold"))
        except Exception as exc:  # a plotting failure must not lose the trained policy
            log.warning("could not plot the learning curve: %s", exc)
            (out_dir / "curve.json").write_text(json.dumps(result["curve"], indent=1))
    return result


def _train_cached(
    *, pred: Any, dqn: Any, out_dir: Path, train_limits: SandboxLimits | None, cache: Any | None
) -> dict[str, Any]:
    """``train_policy`` through the training cache (when given): an unchanged environment is never retrained."""
    source = env_source(pred)
    if cache is None or source is None:
        return train_policy(pred=pred, dqn=dqn, out_dir=out_dir, train_limits=train_limits)
    key = cache.key(env=source, trainer=dqn.to_dict(), extra={"route": pred.coding_path})

    def _train(policy_dir: Path) -> dict[str, Any]:
        result = train_policy(pred=pred, dqn=dqn, out_dir=out_dir, train_limits=train_limits)
        if result["trained"]:
            shutil.copytree(Path(result["policy_dir"]), policy_dir, dirs_exist_ok=True)
        return result

    entry = cache.get_or_train(key, _train)
    result = dict(entry.result)
    if entry.hit and result.get("trained"):
        target = Path(out_dir) / POLICY_DIR
        shutil.copytree(entry.policy_dir, target, dirs_exist_ok=True)
        result["policy_dir"] = str(target)
    result["cache_hit"] = entry.hit
    return result


def _load_policy(policy_dir: str | Path, config: dict[str, Any] | None = None) -> Any:
    from alamp.rl import QPolicy

    # The network's shape comes from this process's training config, not from the (possibly child-written) folder.
    return QPolicy.load(policy_dir, config=config)


def _outcome(pred: Any, training: dict[str, Any] | None) -> Any:
    """The ``alamp.metric.RunOutcome`` of a prediction and its training.

    ``make_env`` is given for the compiler route only: generated code (llm route) never runs in this process.
    """
    from alamp.metric import RunOutcome
    from alamp.tasks import GOLD_FIELDS

    stages = {name: getattr(pred, name, None) for name in GOLD_FIELDS}
    make_env = None
    if getattr(pred, "coding_path", None) == "compiler" and getattr(pred, "env_spec", None) is not None:
        from alamp.spec import compile_spec

        make_env = compile_spec(pred.env_spec).make_env
    trained = bool(training and training.get("trained"))
    messages = [m for m in (getattr(pred, "error", ""), (training or {}).get("error", "")) if m]
    return RunOutcome(
        stages=stages,
        make_env=make_env,
        coded=bool(getattr(pred, "env_passed", False)),
        trained=trained,
        policy=_load_policy(training["policy_dir"], training.get("policy_config")) if trained else None,
        path=getattr(pred, "coding_path", None),
        messages=messages,
    )


def realize(
    example: Any,
    pred: Any,
    *,
    trainer: Mapping[str, Any] | None = None,
    cache: Any | None = None,
    out_dir: Path | None = None,
    train_limits: SandboxLimits | None = None,
    seed: int | None = None,
) -> Any:
    """Build, train and package a prediction for grading (the compile metric's ``realize``).

    Args:
        example: The task's ``dspy.Example`` (unused here beyond the interface; grading looks the task up).
        pred: The program's prediction.
        trainer: Trainer config (``conf/trainer/*.yaml`` as a dict); default ``conf/trainer/default.yaml``.
        cache: A ``TrainingCache`` (optional).
        out_dir: Where the policy and curve go (default: a temporary directory).
        train_limits: Sandbox limits for training generated code.
        seed: Overrides the trainer's seed.

    Returns:
        An ``alamp.metric.RunOutcome``.
    """
    import tempfile

    if not getattr(pred, "env_passed", False):
        return _outcome(pred, None)
    dqn = dqn_config(trainer, seed=seed)
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="alamp-realize-") as tmp:
            training = _train_cached(pred=pred, dqn=dqn, out_dir=Path(tmp), train_limits=train_limits, cache=cache)
            return _outcome(pred, training)
    training = _train_cached(pred=pred, dqn=dqn, out_dir=Path(out_dir), train_limits=train_limits, cache=cache)
    return _outcome(pred, training)


#: Tuner settings that do not change what a study is (how long it runs, where it is stored, retries): raising
#: ``total_trials`` extends the same study.
_STUDY_NEUTRAL_SETTINGS = ("storage", "study_name", "n_trials", "total_trials", "timeout", "heartbeat_interval",
                           "grace_period", "retry_failed_trials")


def study_key(*, env: str, dqn: Any, tuner: Mapping[str, Any]) -> str:
    """The study name of an environment and trainer config: ``dqn-<env hash>-<config hash>``.

    The run's seed is left out (runs of one environment with several seeds share, and resume, one study), as are
    the tuner settings that only say how long or where a call runs.
    """
    import hashlib

    from alamp.train_cache import canonical_json

    config = {k: v for k, v in dqn.to_dict().items() if k != "seed"}
    settings = {k: v for k, v in dict(tuner).items() if k not in _STUDY_NEUTRAL_SETTINGS}
    env_hash = hashlib.sha256(env.encode()).hexdigest()[:12]
    config_hash = hashlib.sha256(canonical_json([config, settings]).encode()).hexdigest()[:8]
    return f"dqn-{env_hash}-{config_hash}"


def default_study_storage() -> str:
    """``sqlite:///<alamp cache>/optuna.db``: one file for every run's studies, so a rerun finds its study."""
    from alamp.paths import cache_dir

    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'optuna.db'}"


def tune_and_train(
    *,
    pred: Any,
    dqn: Any,
    tuner: Mapping[str, Any],
    out_dir: Path,
    train_limits: SandboxLimits | None = None,
    cache: Any | None = None,
) -> dict[str, Any]:
    """The tuned training stage: an Optuna study on the prediction's environment, then the final policy.

    The study (``alamp.optimizers.tune_dqn``) is created or resumed up to ``tuner['total_trials']``; its trials
    train with the run's seed on the generated environment and are pruned on its evaluations. The best
    configuration then trains the policy like an untuned run (same seed, same result: the best trial's policy
    when it ran with this seed). Generated code (llm route) never runs in this process, so it is trained
    untuned, with a note in ``study``; so is an environment whose study fails (``study.error`` says why).

    Args:
        pred: A prediction whose environment passed its checks.
        dqn: The base ``DQNConfig`` (budgets, threshold, seed); sampled parameters replace its fields.
        tuner: The ``trainer.tuner`` block.
        out_dir: The training directory; the study's ``best_params.json`` and ``trials.csv`` go to ``tuning/``.
        train_limits: Sandbox limits for the final training of generated code.
        cache: A ``TrainingCache`` for the final training (optional).

    Returns:
        ``train_policy``'s result with ``study`` (``TuneResult.summary()`` plus ``tuned_config``, the final
        config's sampled fields) and ``tuning_seconds``.
    """
    from alamp.optimizers import tune_dqn

    source = env_source(pred)
    if getattr(pred, "coding_path", None) != "compiler" or source is None:
        log.warning("trainer.tune: tuning runs on compiled specs only (this environment is generated code, which "
                    "never runs in this process); training it with the untuned config")
        result = _train_cached(pred=pred, dqn=dqn, out_dir=out_dir, train_limits=train_limits, cache=cache)
        result["study"] = {"skipped": "tuning runs on compiled specs only (coding=compiler)"}
        return result
    from alamp.spec import compile_spec

    compiled = compile_spec(pred.env_spec)
    settings = dict(tuner)
    settings["study_name"] = settings.get("study_name") or study_key(env=source, dqn=dqn, tuner=settings)
    settings["storage"] = settings.get("storage") or default_study_storage()
    start = time.perf_counter()
    try:
        tuned = tune_dqn(make_env=compiled.make_env, make_vec_env=compiled.make_vec,
                         output_dir=Path(out_dir) / "tuning", base_config=dqn, tuner_config=settings)
    except Exception as exc:  # a spec that breaks a trial, an unreachable storage: the untuned stage still runs
        message = f"tuning failed: {type(exc).__name__}: {exc}"
        log.warning("trainer.tune: %s; training with the untuned config", message)
        result = _train_cached(pred=pred, dqn=dqn, out_dir=out_dir, train_limits=train_limits, cache=cache)
        result["study"] = {"study_name": settings["study_name"], "error": message}
        return result
    tuning_seconds = round(time.perf_counter() - start, 3)
    log.info("study %s: %s trials, best value %s", tuned.study_name, tuned.trial_counts, tuned.best_value)
    result = _train_cached(pred=pred, dqn=tuned.best_config, out_dir=out_dir, train_limits=train_limits,
                           cache=cache)
    result["study"] = {**tuned.summary(), "tuned_config": dict(tuned.best_params)}
    result["tuning_seconds"] = tuning_seconds
    return result


def train_and_grade(
    *,
    pred: Any,
    task: Any | None,
    trainer: Mapping[str, Any] | None,
    out_dir: Path,
    train_limits: SandboxLimits | None = None,
    seed: int | None = None,
    cache: Any | None = None,
) -> dict[str, Any]:
    """Training and, when the input was a task, grading against its reference (``alamp.run``'s last stages).

    With ``trainer['tune']`` the training is :func:`tune_and_train` (the study's summary is ``training['study']``).

    Returns:
        ``training`` (see ``train_policy``), ``verdict`` (``alamp.metric.grade``'s, as a dict, or None without a
        task) and ``status`` (``ok``, ``train_failed``).
    """
    dqn = dqn_config(trainer, seed=seed)
    if trainer is not None and trainer.get("tune"):
        training = tune_and_train(pred=pred, dqn=dqn, tuner=trainer.get("tuner") or {}, out_dir=out_dir,
                                  train_limits=train_limits, cache=cache)
    else:
        training = _train_cached(pred=pred, dqn=dqn, out_dir=out_dir, train_limits=train_limits, cache=cache)
    summary_training = {k: v for k, v in training.items()}
    status = "ok" if training.get("trained") else "train_failed"
    verdict = grade_prediction(pred=pred, task=task, training=training) if task is not None else None
    return {"training": summary_training, "verdict": verdict, "status": status}


def grade_prediction(*, pred: Any, task: Any, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """``alamp.metric.grade`` of a prediction (and its training, if any) against the task, as a plain dict."""
    from alamp.metric import grade

    verdict = grade(task=task, outcome=_outcome(pred, training))
    return verdict.model_dump() if hasattr(verdict, "model_dump") else _as_dict(verdict)


def _as_dict(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
