"""``reference=<gymnasium id>``: a description of your own graded against a simulator you have (fidelity, policy
success), with the reference seen in the description's observation and action order."""

from __future__ import annotations

import os
from pathlib import Path

import dspy
import numpy as np
import pytest
from fake_lm import ScriptedLM
from hydra import compose, initialize_config_dir
from program_scripts import CARTPOLE, CARTPOLE_DESCRIPTION

from alamp.envs import known_policy
from alamp.metric import RunOutcome
from alamp.paths import conf_dir
from alamp.reference import ReorderedEnv, grade_against_reference, user_reference
from alamp.run import RunInputError, run
from alamp.spec import compile_spec
from alamp.spec.examples import cartpole_spec

os.environ["WANDB_MODE"] = "disabled"


@pytest.fixture(autouse=True)
def _reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="run", overrides=["logger=disabled", "train=false", "progress=false", *overrides])


def test_a_description_run_is_graded_against_the_reference(tmp_path: Path) -> None:
    description = tmp_path / "balance.txt"
    description.write_text(CARTPOLE_DESCRIPTION)
    lm = ScriptedLM(CARTPOLE)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    out = tmp_path / "run"
    summary = run(_cfg(f"description_file={description}", "reference=CartPole-v1"), run_dir=out, lm=lm)
    verdict = summary["verdict"]
    assert summary["reference"] == "CartPole-v1" and verdict["reference"] == "CartPole-v1"
    assert verdict["threshold"] == 475.0  # CartPole-v1's registered reward_threshold
    assert verdict["coded"] and verdict["fidelity"] is not None and verdict["fidelity"] > 0.9
    assert verdict["start_fidelity"] == 1.0 and verdict["modeling_score"] is None
    assert "reward_threshold = 475.0" in (out / "env.py").read_text()


def test_reordered_reference_and_policy_success() -> None:
    reference = user_reference("CartPole-v1", obs_order=[2, 3, 0, 1], episodes=5)
    env = reference.make()
    obs, _ = env.reset(seed=0)
    inner = env.inner.unwrapped.state
    np.testing.assert_allclose(obs, np.asarray(inner, dtype=np.float32)[[2, 3, 0, 1]])
    env.set_state([0.1, 0.2, 0.3, 0.4])  # theta, theta_dot, x, x_dot
    np.testing.assert_allclose(env.inner.unwrapped.state, [0.3, 0.4, 0.1, 0.2])
    np.testing.assert_allclose(env.get_state(), [0.1, 0.2, 0.3, 0.4])
    assert reference.stochastic is False and reference.random_return < 100

    expert = known_policy("CartPole-v1")

    class Reordered:  # the expert, observing theta first as the description says
        def act(self, obs: np.ndarray) -> int:
            return expert.act(np.asarray(obs)[[2, 3, 0, 1]])

    verdict = grade_against_reference(
        reference=reference, outcome=RunOutcome(coded=True, trained=True, policy=Reordered()), fidelity_samples=0
    )
    assert verdict["policy_success"] and verdict["failed_level"] == "modeled"  # no agent stages in this outcome
    assert verdict["reference_return"] >= 475

    # the spec in gymnasium's own order disagrees with the reordered reference; in the stated order it agrees
    same = grade_against_reference(
        reference=user_reference("CartPole-v1", episodes=1),
        outcome=RunOutcome(coded=True, make_env=compile_spec(cartpole_spec()).make_env, path="compiler"),
        fidelity_samples=40,
    )
    swapped = grade_against_reference(
        reference=reference,
        outcome=RunOutcome(coded=True, make_env=compile_spec(cartpole_spec()).make_env, path="compiler"),
        fidelity_samples=40,
    )
    assert same["fidelity"] == 1.0 and swapped["fidelity"] < 0.5


def test_reference_option_errors(tmp_path: Path) -> None:
    description = tmp_path / "d.txt"
    description.write_text(CARTPOLE_DESCRIPTION)
    cases = [
        (["task=cartpole", "reference=CartPole-v1"], "graded against its own reference"),
        ([f"description_file={description}", "reference=NoSuchEnv-v9"], "reference=NoSuchEnv-v9"),
        ([f"description_file={description}", "reference=Pendulum-v1"], "discrete-action"),
        ([f"description_file={description}", "reference=alamp/Thermostat-v0"], "reference_threshold="),
        ([f"description_file={description}", "reference=CartPole-v1", "reference_obs_order=[0,0,1,2]"],
         "reference_obs_order=.*exactly once"),
        ([f"description_file={description}", "reference_threshold=3"], "needs reference="),
    ]  # fmt: skip
    for overrides, message in cases:
        with pytest.raises(RunInputError, match=message):
            run(_cfg(*overrides), run_dir=tmp_path / "run", lm=ScriptedLM({}))
    assert isinstance(ReorderedEnv("CartPole-v1").observation_space.shape, tuple)
