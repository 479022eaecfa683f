"""``trainer=tune`` in ``alamp.run``: the training stage is a study keyed by the environment, summarised in run.json
under ``training.study``, and a rerun resumes the study instead of repeating it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dspy
import optuna
import pytest
from fake_lm import ScriptedLM
from hydra import compose, initialize_config_dir
from program_scripts import CARTPOLE

from alamp.optimizers import make_pruner, make_sampler, public_storage_url
from alamp.paths import conf_dir
from alamp.pipeline import study_key
from alamp.rl import DQNConfig, load_trainer_config
from alamp.run import run

os.environ["WANDB_MODE"] = "disabled"

TINY = [
    "trainer.dqn.total_timesteps=600",
    "trainer.dqn.learning_starts=100",
    "trainer.dqn.eval_every=200",
    "trainer.dqn.eval_episodes=2",
    "trainer.dqn.num_envs=2",
    "trainer.tuner.total_trials=2",
    "trainer.tuner.sampler.n_startup_trials=1",
]


@pytest.fixture(autouse=True)
def _reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="run", overrides=["logger=disabled", "progress=false", "task=cartpole",
                                                     *overrides])


def _run(out: Path, *overrides: str) -> dict:
    lm = ScriptedLM(CARTPOLE)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    return run(_cfg(*overrides), run_dir=out, lm=lm)


def test_tune_run_reports_its_study_and_a_rerun_resumes_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALAMP_CACHE_DIR", str(tmp_path / "cache"))  # the default study storage lives here
    first = _run(tmp_path / "a", "trainer=tune", *TINY)
    study = json.loads((tmp_path / "a" / "run.json").read_text())["training"]["study"]
    assert set(study) >= {"study_name", "storage", "trials", "best_value", "best_trial", "best_params", "importance"}
    assert study["trials"]["run"] == 2 and study["trials"]["total"] == 2
    assert study["trials"].get("COMPLETE", 0) + study["trials"].get("PRUNED", 0) == 2
    assert study["best_value"] is not None and study["best_params"]
    assert study["storage"] == f"sqlite:///{tmp_path / 'cache' / 'optuna.db'}"
    assert first["training"]["trained"] and first["verdict"]["trained"]
    assert (tmp_path / "a" / "training" / "tuning" / "trials.csv").is_file()
    assert first["training"]["study"]["best_params"]["learning_rate"] == 0.0025  # trial 0 is the untuned config

    # Same environment and trainer config, another seed: the study is found and already has its trials.
    second = _run(tmp_path / "b", "trainer.tune=true", "seed=1", *TINY)
    resumed = second["training"]["study"]
    assert resumed["study_name"] == study["study_name"]
    assert resumed["trials"]["run"] == 0 and resumed["trials"]["total"] == 2
    assert resumed["best_params"] == study["best_params"]

    # Asking for more trials extends the same study.
    third = _run(tmp_path / "c", "trainer=tune", *TINY, "trainer.tuner.total_trials=3")["training"]["study"]
    assert third["study_name"] == study["study_name"]
    assert third["trials"]["run"] == 1 and third["trials"]["total"] == 3


def test_a_failing_study_leaves_the_untuned_training_and_says_why(tmp_path: Path, monkeypatch) -> None:
    import alamp.optimizers

    def broken(**_kwargs):
        raise ConnectionError("could not reach postgresql://db/optuna")

    monkeypatch.setattr(alamp.optimizers, "tune_dqn", broken)
    summary = _run(tmp_path / "a", "trainer=tune", *TINY, f"trainer.tuner.storage=sqlite:///{tmp_path / 's.db'}")
    assert summary["training"]["trained"] and summary["verdict"]["trained"]
    assert summary["training"]["study"]["error"] == "tuning failed: ConnectionError: could not reach postgresql://db/optuna"


def test_untuned_run_has_no_study(tmp_path: Path) -> None:
    summary = _run(tmp_path / "a", *TINY[:5])
    assert "study" not in summary["training"] and summary["training"]["trained"]


def test_study_key_ignores_the_seed_and_where_it_is_stored() -> None:
    tuner = load_trainer_config("tune")["tuner"]
    key = study_key(env="{spec}", dqn=DQNConfig(seed=0), tuner=tuner)
    assert key == study_key(env="{spec}", dqn=DQNConfig(seed=7), tuner={**tuner, "storage": "postgresql://x/y",
                                                                             "timeout": 5})
    assert key != study_key(env="{other}", dqn=DQNConfig(), tuner=tuner)
    assert key != study_key(env="{spec}", dqn=DQNConfig(learning_rate=1e-3), tuner=tuner)
    assert key == study_key(env="{spec}", dqn=DQNConfig(), tuner={**tuner, "total_trials": 99})  # extends it
    assert key != study_key(env="{spec}", dqn=DQNConfig(), tuner={**tuner, "objective": "best"})


def test_sampler_and_pruner_are_chosen_by_name() -> None:
    assert isinstance(make_sampler({"name": "random"}, seed=1), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler({"n_startup_trials": 3}, seed=1), optuna.samplers.TPESampler)
    assert isinstance(make_pruner({"name": "hyperband", "min_resource": 1}), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner({"name": "nop"}), optuna.pruners.NopPruner)
    with pytest.raises(ValueError, match="sampler.name='annealing'.*tpe"):
        make_sampler({"name": "annealing"}, seed=0)
    with pytest.raises(ValueError, match="pruner.name='never'.*median"):
        make_pruner({"name": "never"})


def test_storage_password_never_reaches_the_summary() -> None:
    masked = public_storage_url("postgresql+psycopg2://alamp:s3cret@db.example:5432/optuna")
    assert "s3cret" not in masked and masked.startswith("postgresql+psycopg2://alamp:***@db.example")
    assert public_storage_url("sqlite:////tmp/optuna.db") == "sqlite:////tmp/optuna.db"


def test_tune_preset_composes_with_the_shipped_budget() -> None:
    trainer = load_trainer_config("tune")
    assert trainer["tune"] is True
    tuner = trainer["tuner"]
    assert tuner["total_trials"] == 10 and tuner["enqueue_base"] is True
    assert tuner["sampler"]["name"] == "tpe" and tuner["pruner"]["name"] == "median"
