"""The Code Executor's checks and the precision of its error messages."""

from __future__ import annotations

from program_scripts import GOOD_CORRIDOR_CODE

from alamp.executor import check_code, check_env_factory
from alamp.sandbox import SandboxLimits
from alamp.schema import SARSpec

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
    marker = tmp_path / "ran_here"
    code = f"import os\nopen({str(marker)!r} + str(os.getpid()), 'w').write('x')\n" + GOOD_CORRIDOR_CODE
    import os

    assert check_code(code, sar=SAR).passed
    written = [p.name for p in tmp_path.iterdir()]
    assert written and f"ran_here{os.getpid()}" not in written  # it ran, but in a child process


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
