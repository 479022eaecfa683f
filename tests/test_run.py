"""``python -m alamp.run``: the run directory, resume without repeated LM calls, clear input errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dspy
import pytest
from fake_lm import ScriptedLM
from hydra import compose, initialize_config_dir
from program_scripts import BROKEN_CORRIDOR_CODE, CARTPOLE, CORRIDOR, CORRIDOR_DESCRIPTION, with_code

from alamp.paths import conf_dir
from alamp.run import RunInputError, run

os.environ["WANDB_MODE"] = "disabled"


@pytest.fixture(autouse=True)
def _reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="run", overrides=["logger=disabled", "train=false", "progress=false", *overrides])


def _description_file(tmp_path: Path) -> Path:
    path = tmp_path / "corridor.txt"
    path.write_text(CORRIDOR_DESCRIPTION)
    return path


def _fake(script: dict) -> ScriptedLM:
    lm = ScriptedLM(script)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    return lm


def test_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    lm = _fake(CORRIDOR)
    out = tmp_path / "run"
    summary = run(_cfg(f"description_file={_description_file(tmp_path)}"), run_dir=out, lm=lm)
    assert summary["status"] == "ok" and summary["env"]["coding_path"] == "compiler"
    for name in ("run.json", "mdp.md", "env.py", "description.txt", "config.yaml", "env_spec.json"):
        assert (out / name).is_file(), name
    stages = ["parameter", "objective", "variable", "constraint", "modeling", "sar", "env"]
    assert sorted(p.stem for p in (out / "stages").glob("*.json")) == sorted(stages)
    record = json.loads((out / "stages" / "sar.json").read_text())
    assert record["status"] == "ok" and record["output"]["sar"]["observations"] == ["position"]
    saved = json.loads((out / "run.json").read_text())
    assert saved["lm"]["calls"] == 7 and saved["lm"]["per_agent"]["env"]["calls"] == 1
    assert saved["lm"]["total_tokens"] > 0
    assert "\\mathcal{S}" in (out / "mdp.md").read_text()


def test_resume_after_a_crash_repeats_no_lm_call(tmp_path: Path) -> None:
    def crash(_user: str) -> dict:
        raise KeyboardInterrupt  # the process is killed while the SAR agent runs

    out = tmp_path / "run"
    cfg = _cfg(f"description_file={_description_file(tmp_path)}")
    first = _fake(dict(CORRIDOR, SARSignature=[crash]))
    with pytest.raises(KeyboardInterrupt):
        run(cfg, run_dir=out, lm=first)
    assert {p.stem for p in (out / "stages").glob("*.json")} == {
        "parameter",
        "objective",
        "variable",
        "constraint",
        "modeling",
    }

    second = _fake(CORRIDOR)
    summary = run(_cfg(f"description_file={_description_file(tmp_path)}", f"resume={out}"), lm=second)
    assert summary["status"] == "ok" and summary["resumed"]
    assert dict(second.calls) == {"SARSignature": 1, "EnvSignature": 1}
    # A third run of a finished directory calls nothing at all.
    third = _fake(CORRIDOR)
    run(_cfg(f"description_file={_description_file(tmp_path)}", f"resume={out}"), lm=third)
    assert sum(third.calls.values()) == 0


def test_repairs_exhausted_records_a_clear_failure(tmp_path: Path) -> None:
    lm = _fake(with_code(CORRIDOR, code=[BROKEN_CORRIDOR_CODE], fixes=[BROKEN_CORRIDOR_CODE]))
    out = tmp_path / "run"
    summary = run(
        _cfg(f"description_file={_description_file(tmp_path)}", "coding=llm", "max_repairs=1"), run_dir=out, lm=lm
    )
    assert summary["status"] == "env_failed"
    assert summary["env"]["passed"] is False and len(summary["env"]["attempts"]) == 2
    assert "NameError" in summary["error"]
    assert summary["verdict"]["coded"] is False and summary["verdict"]["failed_level"] == "coding"
    for name in ("run.json", "mdp.md", "stages/coding.json", "stages/sar.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "stages" / "coding.json").read_text())["status"] == "ok"


def test_single_model_pipeline(tmp_path: Path) -> None:
    one_call = {k: v for answer in CORRIDOR.values() for k, v in answer[0].items()}
    lm = _fake({"SingleModelSignature": [one_call]})
    out = tmp_path / "run"
    summary = run(_cfg(f"description_file={_description_file(tmp_path)}", "pipeline=single_model"), run_dir=out, lm=lm)
    assert summary["status"] == "ok" and summary["pipeline"] == "single_model"
    assert (out / "stages" / "single_model.json").is_file() and (out / "env.py").is_file()


def test_unknown_task_lists_the_known_ids() -> None:
    with pytest.raises(RunInputError, match="known tasks: .*cartpole"):
        run(_cfg("task=no_such_task"), lm=ScriptedLM({}))


def test_missing_description_file(tmp_path: Path) -> None:
    with pytest.raises(RunInputError, match="does not exist"):
        run(_cfg(f"description_file={tmp_path / 'missing.txt'}"), lm=ScriptedLM({}))
    with pytest.raises(RunInputError, match="no input"):
        run(_cfg(), lm=ScriptedLM({}))


def test_missing_program_file(tmp_path: Path) -> None:
    cfg = _cfg(f"description_file={_description_file(tmp_path)}", f"program={tmp_path / 'nope.json'}")
    with pytest.raises(RunInputError, match="python -m alamp.compile"):
        run(cfg, run_dir=tmp_path / "run", lm=ScriptedLM({}))


@pytest.mark.slow
def test_task_run_trains_and_grades(tmp_path: Path) -> None:
    lm = _fake(CARTPOLE)
    out = tmp_path / "run"
    cfg = _cfg(
        "task=cartpole",
        "train=true",
        "trainer=fast",
        "trainer.dqn.total_timesteps=400",
        "trainer.dqn.learning_starts=100",
        "trainer.dqn.eval_every=0",
        "trainer.dqn.eval_episodes=2",
        "trainer.dqn.num_envs=2",
    )
    summary = run(cfg, run_dir=out, lm=lm)
    assert summary["training"]["trained"] is True
    assert (out / "training" / "policy").is_dir()
    verdict = summary["verdict"]
    assert verdict["task_id"] == "cartpole" and verdict["coded"] and verdict["trained"]
    assert verdict["path"] == "compiler"


def test_compiler_route_failure_still_writes_an_env_py_that_explains(tmp_path: Path) -> None:
    broken = {"updates": [{"target": "position", "expr": "clip(position + drift, 0, 10)"}]}
    lm = _fake(dict(CORRIDOR, EnvSignature=[broken, broken]))
    out = tmp_path / "run"
    summary = run(_cfg(f"description_file={_description_file(tmp_path)}", "max_repairs=1"), run_dir=out, lm=lm)
    assert summary["status"] == "env_failed"
    env_py = (out / "env.py").read_text()
    assert "No environment passed" in env_py and "drift" in env_py
    compile(env_py, "env.py", "exec")  # a valid module that says why it has no environment


def test_the_pipeline_and_the_seed_shape_the_lm_and_the_sampling() -> None:
    from alamp.run import lm_settings, settings_from_config

    baseline, chain = _cfg("pipeline=single_model"), _cfg("pipeline=alamp", "seed=2")
    assert lm_settings(baseline)["max_tokens"] == 3072 and lm_settings(baseline)["n_ctx"] == 8192
    assert lm_settings(chain)["max_tokens"] == chain.lm.max_tokens  # no override: the lm preset's budget
    assert settings_from_config(chain).sampling_seed == 2
    assert settings_from_config(_cfg("seed=2", "seed_sampling=false")).sampling_seed == 0
    assert settings_from_config(_cfg("seed=0")).sampling_seed == 0


def test_a_run_uses_the_configured_lm_cache_directory(tmp_path: Path) -> None:
    lm = _fake(CORRIDOR)
    cache = tmp_path / "answers"
    try:
        run(_cfg(f"description_file={_description_file(tmp_path)}", f"lm_cache.dir={cache}"), run_dir=tmp_path / "r",
            lm=lm)  # fmt: skip
        assert cache.is_dir() and Path(dspy.cache.disk_cache.directory) == cache
    finally:
        from alamp.lm import configure_lm_cache

        configure_lm_cache(None)  # back to the default folder, not one pytest deletes
