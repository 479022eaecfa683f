"""The Code Executor's checks and the precision of its error messages."""

from __future__ import annotations

import pytest
from program_scripts import GOOD_CORRIDOR_CODE

from alamp.executor import actions_change_anything, check_code, check_env_factory
from alamp.sandbox import SandboxLimits, detect_isolation
from alamp.schema import SARSpec
from alamp.spec import compile_spec
from alamp.tasks import load_task, task_ids

SAR = SARSpec(observations=["position"], actions=[{"name": "left"}, {"name": "right"}], reward="-1")


def test_good_code_passes_every_check() -> None:
    report = check_code(GOOD_CORRIDOR_CODE, sar=SAR, n_steps=100)
    assert report.passed, report.error
    assert (report.obs_dim, report.n_actions, report.steps) == (1, 2, 100)


def test_missing_import_names_the_line() -> None:
    report = check_code(GOOD_CORRIDOR_CODE.replace("from gymnasium import spaces\n", ""), sar=SAR)
    assert not report.passed and report.stage_failed == "construct"
    assert "NameError" in report.error and "spaces" in report.error and "generated_env.py" in report.error


def test_syntax_error_fails_at_import() -> None:
    report = check_code(GOOD_CORRIDOR_CODE.replace("def step(self, action):", "def step(self, action)"), sar=SAR)
    assert report.stage_failed == "import" and "SyntaxError" in report.error


def test_reset_without_super_fails_check_env() -> None:
    report = check_code(GOOD_CORRIDOR_CODE.replace("super().reset(seed=seed)", "pass"), sar=SAR)
    assert report.stage_failed == "check_env"
    assert "super().reset(seed=seed)" in report.error


def test_crash_during_steps_is_reported() -> None:
    code = GOOD_CORRIDOR_CODE.replace("self.t += 1", "self.t += 1\n        if self.t > 30:\n            1 / 0")
    report = check_code(code, sar=SAR, n_steps=200)
    assert not report.passed and report.stage_failed in ("check_env", "step")
    assert "ZeroDivisionError" in report.error


def test_spaces_must_agree_with_the_sar_spec() -> None:
    sar3 = SARSpec(observations=["position", "speed"], actions=[{"name": "a"}, {"name": "b"}, {"name": "c"}],
                   reward="-1")
    report = check_code(GOOD_CORRIDOR_CODE, sar=sar3)
    assert report.stage_failed == "spaces"
    assert "2 observations" in report.error and "spaces.Discrete(3)" in report.error


def test_module_without_env_class() -> None:
    report = check_code("import numpy as np\nX = 1\n", sar=SAR)
    assert report.stage_failed == "construct" and "no gymnasium.Env subclass" in report.error


def test_endless_step_times_out() -> None:
    code = GOOD_CORRIDOR_CODE.replace("self.t += 1", "while True:\n            pass")
    report = check_code(code, sar=SAR, limits=SandboxLimits(timeout_s=2))
    assert report.stage_failed == "timeout" and "timed out" in report.error


def test_generated_code_never_runs_in_this_process(tmp_path) -> None:
    import os

    marker = tmp_path / "ran_here"
    code = f"import os\nopen({str(marker)!r} + str(os.getpid()), 'w').write('x')\n" + GOOD_CORRIDOR_CODE
    # The plain-child fallback: the code runs, but in another process.
    assert check_code(code, sar=SAR, limits=SandboxLimits(isolation="process")).passed
    written = [p.name for p in tmp_path.iterdir()]
    assert written and f"ran_here{os.getpid()}" not in written
    if detect_isolation().kind == "bwrap":  # contained: the user's files are not even visible
        for path in tmp_path.iterdir():
            path.unlink()
        report = check_code(code, sar=SAR)
        assert report.stage_failed == "import" and "FileNotFoundError" in report.error
        assert not any(tmp_path.iterdir())


def test_compiled_spec_is_checked_in_process() -> None:
    from alamp.schema import EnvSpec
    from alamp.spec import compile_spec

    spec = EnvSpec(
        state=[{"name": "position", "low": 0, "high": 10, "init": "0", "clip": True}],
        actions=[{"name": "left", "updates": [{"target": "position", "expr": "position - 1"}]},
                 {"name": "right", "updates": [{"target": "position", "expr": "position + 1"}]}],
        reward="-1", terminated=["position >= 10"], max_steps=50,
    )
    report = check_env_factory(compile_spec(spec).make_env, sar=SAR, n_steps=100)
    assert report.passed, report.error


@pytest.mark.parametrize("task_id", task_ids())
def test_in_every_gold_environment_the_action_matters(task_id: str) -> None:
    assert actions_change_anything(compile_spec(load_task(task_id).gold.env_spec).make_env)


def test_an_environment_whose_updates_ignore_the_action_is_caught() -> None:
    # Real output of the embedded model (mountain_car, seed 0): the actions set `move`, no update reads it.
    spec = {
        "id": "alamp/MountainCarLike-v0",
        "constants": {"a": 0.0},
        "state": [{"name": "position", "low": -1.2, "high": 0.6, "init": "uniform(-0.6, -0.4)", "clip": True},
                  {"name": "velocity", "low": -0.07, "high": 0.07, "init": "0", "clip": True}],
        "actions": [{"name": n, "updates": [{"target": "move", "expr": e}]}
                    for n, e in (("left", "-1"), ("none", "0"), ("right", "1"))],
        "updates": [{"target": "velocity", "expr": "(a - 1) * 0.001 - 0.0025 * cos(3 * position)"},
                    {"target": "position", "expr": "position + velocity"}],
        "reward": "-1",
        "terminated": ["position >= 0.5"],
        "max_steps": 200,
    }  # fmt: skip
    assert not actions_change_anything(compile_spec(spec).make_env)
    spec["updates"][0]["expr"] = "velocity + move * 0.001 - 0.0025 * cos(3 * position)"
    assert actions_change_anything(compile_spec(spec).make_env)
    # Randomness is shared across the actions compared: a noisy env whose action changes nothing is still caught.
    spec["updates"][0]["expr"] = "velocity + normal(0, 0.001)"
    assert not actions_change_anything(compile_spec(spec).make_env)
