"""The Optuna tuner: resumes a stored study, prunes a hopeless trial, marks a killed trial FAIL on resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from rl_chain import CHAIN_CONFIG, make_chain

from alamp.optimizers import tune_dqn

TESTS_DIR = Path(__file__).resolve().parent
GOOD = {"learning_rate": 3e-3}
HOPELESS = {"learning_rate": 1e-9}  # the network never moves off its (non-solving) initialisation


def tuner_settings(storage: str) -> dict:
    return {
        "storage": storage,
        "study_name": "chain",
        "heartbeat_interval": 1,
        "grace_period": 2,
        "pruner": {"n_startup_trials": 2, "n_warmup_steps": 0, "interval_steps": 1},
        "search_space": {"learning_rate": {"type": "float", "low": 1e-9, "high": 1e-2, "log": True}},
    }


@pytest.mark.slow
def test_study_resumes_and_prunes(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    # Run the whole budget so every trial reports at every step (the median needs values at the same steps).
    base = CHAIN_CONFIG.replace(stop_on_threshold=False, total_timesteps=2_000, eval_episodes=3)
    settings = tuner_settings(storage)

    first = tune_dqn(make_env=make_chain, output_dir=tmp_path, base_config=base, tuner_config=settings, n_trials=0)
    assert first.trial_counts == {}
    study = optuna.load_study(study_name="chain", storage=storage)
    study.enqueue_trial(GOOD)
    study.enqueue_trial(GOOD | {"learning_rate": 5e-3})
    second = tune_dqn(make_env=make_chain, output_dir=tmp_path, base_config=base, tuner_config=settings, n_trials=2)
    assert second.trial_counts == {"COMPLETE": 2}
    assert second.best_value > 0.5

    study.enqueue_trial(HOPELESS)
    third = tune_dqn(make_env=make_chain, output_dir=tmp_path, base_config=base, tuner_config=settings, n_trials=1)
    assert third.trial_counts == {"COMPLETE": 2, "PRUNED": 1}  # resumed: the earlier trials are still there
    assert third.best_params["learning_rate"] in (3e-3, 5e-3)
    assert third.best_config.learning_rate == third.best_params["learning_rate"]

    summary = json.loads((tmp_path / "best_params.json").read_text())
    assert summary["best_params"] == third.best_params and summary["n_trials"] == 3
    with (tmp_path / "trials.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["state"] for row in rows] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert float(rows[2]["params_learning_rate"]) == pytest.approx(1e-9)


def test_unknown_search_space_field_is_refused(tmp_path) -> None:
    settings = tuner_settings(f"sqlite:///{tmp_path / 'study.db'}")
    settings["search_space"] = {"learning_rat": {"type": "float", "low": 1e-4, "high": 1e-2}}
    with pytest.raises(ValueError, match="learning_rat"):
        tune_dqn(make_env=make_chain, output_dir=tmp_path, base_config=CHAIN_CONFIG, tuner_config=settings,
                 n_trials=1)


CHILD = """
import json, sys
from rl_chain import CHAIN_CONFIG, ChainEnv
from alamp.optimizers import tune_dqn
settings = json.loads(sys.argv[1])
slow_chain = lambda: ChainEnv(step_delay_s=0.01)
config = CHAIN_CONFIG.replace(stop_on_threshold=False, total_timesteps=100_000)
tune_dqn(make_env=slow_chain, output_dir=sys.argv[2], base_config=config, tuner_config=settings, n_trials=1)
"""


@pytest.mark.slow
def test_killed_trial_is_marked_failed_on_resume(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    settings = tuner_settings(storage)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(settings), str(tmp_path)], env=env)
    try:
        deadline = time.monotonic() + 120
        running: list[optuna.trial.FrozenTrial] = []
        while not running:
            assert child.poll() is None, "the tuning process ended before it could be killed"
            assert time.monotonic() < deadline, "no trial started within 120 s"
            time.sleep(0.5)
            try:
                study = optuna.load_study(study_name="chain", storage=storage)
            except KeyError:  # study not created yet
                continue
            running = study.get_trials(states=[optuna.trial.TrialState.RUNNING])
        time.sleep(1.5)  # let a heartbeat land
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert optuna.load_study(study_name="chain", storage=storage).trials[0].state == optuna.trial.TrialState.RUNNING

    time.sleep(3)  # longer than the grace period: the trial is now stale
    resumed = tune_dqn(make_env=make_chain, output_dir=tmp_path, base_config=CHAIN_CONFIG, tuner_config=settings,
                       n_trials=0)
    assert resumed.trial_counts == {"FAIL": 1}
