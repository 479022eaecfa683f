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
    # One Env sample (the default draws up to three for the consensus, tests/test_consensus.py), so that LM calls
    # can be counted; an override given later wins.
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        base = ["logger=disabled", "train=false", "progress=false", "num_candidates=1"]
        return compose(config_name="run", overrides=[*base, *overrides])


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


# --- an honest ending: failures marked, reasons, next steps, exit codes, every candidate kept ------------------


def test_a_failed_environment_is_marked_failed_with_its_reason_and_every_candidate_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from alamp.exit_codes import ExitCode
    from alamp.run import ending_lines

    broken = {"updates": [{"target": "position", "expr": "clip(position + drift, 0, 10)"}]}
    lm = _fake(dict(CORRIDOR, EnvSignature=[broken]))
    out = tmp_path / "run"
    cfg = _cfg(f"description_file={_description_file(tmp_path)}", "max_repairs=1", "num_candidates=2", "progress=true")
    summary = run(cfg, run_dir=out, lm=lm)
    assert summary["status"] == "env_failed" and summary["exit_code"] == ExitCode.ENV_FAILED
    env_stage = json.loads((out / "run.json").read_text())["stages"]["env"]
    assert env_stage["passed"] is False and "drift" in env_stage["failure"]
    progress = capsys.readouterr().err
    env_block = " ".join(progress.split("✗ env", 1)[1].split("✗")[0].split())
    assert "4 attempt(s), none passed" in env_block and "drift" in env_block
    assert "✓ sar" in progress
    # two candidates x two attempts, each with its checker message
    assert summary["env"]["candidates"] == ["0-0", "0-1", "1-0", "1-1"]
    for name in summary["env"]["candidates"]:
        record = json.loads((out / "candidates" / name / "attempt.json").read_text())
        assert record["passed"] is False and "drift" in (out / "candidates" / name / "check.txt").read_text()
    steps = " ".join(summary["next_steps"])
    assert "num_candidates=4" in steps and "lm=openai" in steps
    # the attempts carry their assembled spec: the last one that got furthest is there to fix by hand
    assert (out / "env_spec.json").is_file() and (out / "candidates" / "1-1" / "env_spec.json").is_file()
    assert f"spec={out / 'env_spec.json'}" in steps and "candidate 1-1" in summary["env"]["spec_source"]
    ending = "\n".join(ending_lines(summary, run_path=out))
    assert "failed: env" in ending and "drift" in ending and "exit code 5" in ending
    assert "passed: parameter, objective, variable, constraint, modeling, sar" in ending


def test_the_best_assembled_spec_is_written_when_attempts_carry_it(tmp_path: Path) -> None:
    from alamp.run import RunDir, _best_failed_spec, write_candidates

    attempts = [
        {"route": "compiler", "candidate": 0, "attempt": 0, "passed": False, "stage_failed": "actions",
         "error": "the actions have no effect", "spec": {"id": "a/Late-v0"}},
        {"route": "compiler", "candidate": 0, "attempt": 1, "passed": False, "stage_failed": "spec",
         "error": "unknown name 'drift'", "spec": {"id": "a/Early-v0"}},
        {"route": "compiler", "candidate": 1, "attempt": 0, "passed": False, "stage_failed": "agent",
         "error": "could not be read"},
        {"route": "llm", "candidate": 0, "attempt": 0, "passed": False, "stage_failed": "import",
         "error": "NameError", "code": "import nothing\n"},
    ]  # fmt: skip
    spec, attempt = _best_failed_spec(attempts)
    assert spec == {"id": "a/Late-v0"} and attempt["attempt"] == 0  # it got furthest through the checks
    directory = RunDir(tmp_path / "run")
    names = write_candidates(directory, attempts)
    assert names == ["0-0", "0-1", "1-0", "0-0-llm"]
    assert json.loads((tmp_path / "run/candidates/0-1/env_spec.json").read_text()) == {"id": "a/Early-v0"}
    assert (tmp_path / "run/candidates/0-0-llm/env.py").read_text() == "import nothing\n"
    assert "spec" not in json.loads((tmp_path / "run/candidates/0-0/attempt.json").read_text())


def test_a_failed_agent_and_an_unreachable_lm_have_their_own_status(tmp_path: Path) -> None:
    from alamp.exit_codes import ExitCode

    def unreadable(_user: str) -> dict:
        return {"sar": "not a SAR spec"}

    def down(_user: str) -> dict:
        raise RuntimeError("litellm.APIConnectionError: Connection refused by 127.0.0.1:8080")

    summary = run(_cfg(f"description_file={_description_file(tmp_path)}"), run_dir=tmp_path / "a",
                  lm=_fake(dict(CORRIDOR, SARSignature=[unreadable])))  # fmt: skip
    assert summary["status"] == "failed" and summary["exit_code"] == ExitCode.MODELING_FAILED
    assert summary["failed_stage"] == "sar" and "stage_retries" in " ".join(summary["next_steps"])
    summary = run(_cfg(f"description_file={_description_file(tmp_path)}"), run_dir=tmp_path / "b",
                  lm=_fake(dict(CORRIDOR, ParameterSignature=[down])))  # fmt: skip
    assert summary["status"] == "lm_unavailable" and summary["exit_code"] == ExitCode.LM_UNAVAILABLE


# --- spec=: a hand-edited env_spec.json, no LM -------------------------------------------------------------------


def test_spec_runs_a_hand_edited_spec_without_the_lm(tmp_path: Path) -> None:
    first = tmp_path / "first"
    run(_cfg(f"description_file={_description_file(tmp_path)}"), run_dir=first, lm=_fake(CORRIDOR))
    spec = json.loads((first / "env_spec.json").read_text())
    spec["constants"]["step_cost"] = 2.0  # the person's edit
    edited = first / "env_spec.json"
    edited.write_text(json.dumps(spec))

    nothing = ScriptedLM({})
    out = tmp_path / "second"
    summary = run(_cfg(f"spec={edited}"), run_dir=out, lm=nothing)
    assert summary["status"] == "ok" and summary["exit_code"] == 0 and sum(nothing.calls.values()) == 0
    assert summary["pipeline"] == "spec" and summary["env"]["passed"] is True
    assert (out / "description.txt").read_text() == (first / "description.txt").read_text()
    assert json.loads((out / "env_spec.json").read_text())["constants"]["step_cost"] == 2.0
    assert "self.step_cost = 2.0" in (out / "env.py").read_text()

    spec["updates"] = [{"target": "position", "expr": "position + drift"}]
    edited.write_text(json.dumps(spec))
    with pytest.raises(RunInputError, match=r"does not compile(.|\n)*drift"):
        run(_cfg(f"spec={edited}"), run_dir=tmp_path / "third", lm=nothing)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"actions": [{"name": "a"}]}', r"not an environment spec: state"),
    ],
)
def test_spec_file_errors_name_the_file_and_the_problem(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "env_spec.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RunInputError, match=message):
        run(_cfg(f"spec={path}"), run_dir=tmp_path / "run", lm=ScriptedLM({}))


# --- resume= -----------------------------------------------------------------------------------------------------


def test_resume_reads_its_own_description_and_config(tmp_path: Path) -> None:
    def crash(_user: str) -> dict:
        raise KeyboardInterrupt

    out = tmp_path / "run"
    first = _fake(dict(CORRIDOR, SARSignature=[crash]))
    with pytest.raises(KeyboardInterrupt):
        run(_cfg(f"description_file={_description_file(tmp_path)}", "max_repairs=3"), run_dir=out, lm=first)
    (tmp_path / "corridor.txt").unlink()  # the input file may be gone: the run kept its own copy

    second = _fake(CORRIDOR)
    summary = run(_cfg(f"resume={out}", "train=false"), lm=second, overrides=[f"resume={out}", "train=false"])
    assert summary["status"] == "ok" and summary["resumed"] and summary["label"] == "corridor"
    assert dict(second.calls) == {"SARSignature": 1, "EnvSignature": 1}
    assert "max_repairs: 3" in (out / "config.yaml").read_text()  # the saved option, not today's default


def test_resume_refuses_a_missing_directory_and_changed_options(tmp_path: Path) -> None:
    with pytest.raises(RunInputError, match=r"resume=.*nowhere: no such directory"):
        run(_cfg(f"resume={tmp_path / 'nowhere'}"), lm=ScriptedLM({}))
    out = tmp_path / "run"
    run(_cfg(f"description_file={_description_file(tmp_path)}"), run_dir=out, lm=_fake(CORRIDOR))
    with pytest.raises(RunInputError, match=r"max_repairs=5 \(the run used 2\)"):
        run(_cfg(f"resume={out}", "max_repairs=5"), lm=ScriptedLM({}), overrides=[f"resume={out}", "max_repairs=5"])
    with pytest.raises(RunInputError, match=r"pipeline"):
        run(_cfg(f"resume={out}", "pipeline=single_model"), lm=ScriptedLM({}),
            overrides=[f"resume={out}", "pipeline=single_model"])  # fmt: skip
    with pytest.raises(RunInputError, match=r"pipeline.stage_retries=3 \(the run used 1\)"):
        run(_cfg(f"resume={out}", "pipeline.stage_retries=3"), lm=ScriptedLM({}),
            overrides=[f"resume={out}", "pipeline.stage_retries=3"])  # fmt: skip
    with pytest.raises(RunInputError, match=r"lm.model="):
        run(_cfg(f"resume={out}", "lm=openai"), lm=ScriptedLM({}), overrides=[f"resume={out}", "lm=openai"])
    other = tmp_path / "other.txt"
    other.write_text("A different problem entirely. " * 5)
    with pytest.raises(RunInputError, match="its text differs"):
        run(_cfg(f"resume={out}", f"description_file={other}"), lm=ScriptedLM({}),
            overrides=[f"resume={out}", f"description_file={other}"])  # fmt: skip
    with pytest.raises(RunInputError, match="task='cartpole'"):
        run(_cfg(f"resume={out}", "task=cartpole"), lm=ScriptedLM({}), overrides=[f"resume={out}", "task=cartpole"])
    # options of later stages may change: nothing is asked again
    again = ScriptedLM({})
    summary = run(_cfg(f"resume={out}", "trainer=fast", "progress=false"), lm=again,
                  overrides=[f"resume={out}", "trainer=fast", "progress=false"])  # fmt: skip
    assert summary["status"] == "ok" and sum(again.calls.values()) == 0


# --- the command: --help and exit codes ----------------------------------------------------------------------------


def test_the_command_lists_its_options_and_exits_with_the_failure_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    help_text = subprocess.run([sys.executable, "-m", "alamp.run", "--help"], capture_output=True, text=True,
                               timeout=120)  # fmt: skip
    assert help_text.returncode == 0, help_text.stderr
    options = [k for k in yaml.safe_load((conf_dir() / "run.yaml").read_text()) if k not in ("defaults", "hydra")]
    for option in options:
        assert f"  {option}=" in help_text.stdout, f"{option} is missing from --help"
    for group in ("lm", "pipeline", "coding", "trainer", "logger"):
        line = next(line for line in help_text.stdout.splitlines() if line.strip().startswith(f"{group}="))
        listed = set(line.split("=", 1)[1].split()[0].split("|"))
        assert listed == {p.stem for p in (conf_dir() / group).glob("*.yaml")}, group

    missing = subprocess.run([sys.executable, "-m", "alamp.run", f"resume={tmp_path / 'gone'}"], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2 and "gone: no such directory" in missing.stderr
    assert not (tmp_path / "gone").exists()


def test_a_runs_files_get_the_permissions_of_any_new_file(tmp_path: Path) -> None:
    import os
    import stat

    from alamp.run_dir import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.html", "<html></html>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644


def test_a_failed_policy_says_which_part_of_the_environment_disagrees(tmp_path: Path) -> None:
    from alamp.run import next_steps

    summary = {"verdict": {"fidelity": 0.02, "fidelity_parts": {"all": 0.02, "step": 1.0, "reward": 0.02,
                                                                "termination": 1.0}}}  # fmt: skip
    steps = next_steps(_cfg(), status="policy_failed", summary=summary, run_path=tmp_path, task=None)
    assert "fidelity 0.02; step 1.00, reward 0.02, termination 1.00" in steps[0]


def test_train_longer_offers_more_than_the_budget_the_run_used(tmp_path: Path) -> None:
    """The hint used to offer 200000 steps after a run that had trained 200000 (the CartPole demo, session 15)."""
    from alamp.run import next_steps

    (tmp_path / "env_spec.json").write_text("{}")
    summary = {"verdict": {"fidelity": 1.0}, "training": {"policy_config": {"total_timesteps": 200_000}}}
    steps = next_steps(_cfg(), status="policy_failed", summary=summary, run_path=tmp_path, task=None)
    hint = next(s for s in steps if s.startswith("train longer"))
    assert "trainer.dqn.total_timesteps=400000" in hint and f"spec={tmp_path / 'env_spec.json'}" in hint
