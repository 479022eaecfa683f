"""The numba backend of the spec compiler: exact on deterministic specs, seeded draws, contained numerical errors."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from test_spec_hostile import RUNTIME  # the same run-time corpus, on the numba backend

from alamp.spec import compile_spec
from alamp.spec.compiled import NUMBA_AUTO_MIN_ENVS, NumbaSpecVectorEnv, SpecVectorEnv
from alamp.spec.examples import cartpole_spec, mountain_car_spec
from alamp.spec.numba_backend import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="numba is not installed (pip install 'alamp[fast]')")

RANDOM_FUNCTIONS = ("uniform(", "normal(", "poisson(", "bernoulli(", "integers(", "choice(")


def _cartpole_states(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-np.array([3.0, 3.0, 0.3, 3.0]), [3.0, 3.0, 0.3, 3.0], size=(n, 4))


def _mountain_car_states(rng: np.random.Generator, n: int) -> np.ndarray:
    states = np.column_stack([rng.uniform(-1.2, 0.6, n), rng.uniform(-0.07, 0.07, n)])
    states[: n // 10, 0] = -1.2  # at the left wall, where velocity is zeroed
    states[n // 10 : n // 5, 0] = rng.uniform(0.45, 0.6, n // 5 - n // 10)  # near the goal
    return states


@pytest.mark.parametrize(
    ("gym_id", "make_spec", "make_states"),
    [("CartPole-v1", cartpole_spec, _cartpole_states), ("MountainCar-v0", mountain_car_spec, _mountain_car_states)],
    ids=["CartPole-v1", "MountainCar-v0"],
)
def test_numba_matches_gymnasium_exactly(gym_id, make_spec, make_states) -> None:
    reference = gym.make(gym_id).unwrapped
    reference.reset(seed=0)
    n = 256
    venv = compile_spec(make_spec()).make_vec(n, backend="numba")
    assert isinstance(venv, NumbaSpecVectorEnv)
    venv.reset(seed=0)
    rng = np.random.default_rng(1)
    outcomes = set()
    for _ in range(8):
        states = make_states(rng, n)
        actions = rng.integers(0, reference.action_space.n, n)
        venv.set_state(states)
        obs, rewards, terminated, truncated, info = venv.step(actions)
        next_states = venv.get_state()
        for i in range(n):
            reference.state = states[i].copy()
            reference.steps_beyond_terminated = None
            ref_obs, ref_reward, ref_term, _, _ = reference.step(int(actions[i]))
            assert (rewards[i], terminated[i]) == (ref_reward, ref_term)
            if ref_term:  # the env was reset in the same step; its last observation is in final_obs
                np.testing.assert_allclose(info["final_obs"][i], ref_obs, rtol=0, atol=1e-6)
            else:
                np.testing.assert_allclose(next_states[i], reference.state, rtol=0, atol=1e-9)
                np.testing.assert_allclose(obs[i], ref_obs, rtol=0, atol=1e-6)
            outcomes.add(bool(ref_term))
        assert not truncated.any()
    assert outcomes == {True, False}


def _gold_specs(*, random: bool) -> list:
    from alamp.tasks import load_tasks

    specs = []
    for task in load_tasks():
        spec = task.gold.env_spec
        if spec is None:
            continue
        step_text = spec.model_dump_json(exclude={"state"})  # draws, actions, updates, reward, conditions
        if any(f in step_text for f in RANDOM_FUNCTIONS) == random:
            specs.append(pytest.param(spec, id=task.id))
    return specs


@pytest.mark.parametrize("spec", _gold_specs(random=False))
def test_numba_matches_numpy_on_deterministic_gold_specs(spec) -> None:
    compiled = compile_spec(spec)
    n = 32
    numpy_env = compiled.make_vec(n, backend="numpy")
    numba_env = compiled.make_vec(n, backend="numba")
    numpy_env.reset(seed=0)
    numba_env.reset(seed=1)
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(60):
        numba_env.set_state(numpy_env.get_state())  # resets draw differently; the steps themselves must agree
        actions = rng.integers(0, compiled.action_space.n, n)
        expected = numpy_env.step(actions)
        got = numba_env.step(actions)
        for want, have in zip(expected[1:4], got[1:4], strict=True):  # rewards, terminated, truncated
            np.testing.assert_array_equal(have, want)
        done = expected[2] | expected[3]
        np.testing.assert_allclose(got[0][~done], expected[0][~done], rtol=0, atol=1e-6)
        np.testing.assert_allclose(numba_env.get_state()[~done], numpy_env.get_state()[~done], rtol=0, atol=1e-9)
        if done.any():
            finished += int(done.sum())
            np.testing.assert_array_equal(got[4]["_final_obs"], done)
            np.testing.assert_allclose(got[4]["final_obs"][done], expected[4]["final_obs"][done], rtol=0, atol=1e-6)
    assert "numerical_error" not in got[4]


def _run(venv, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    obs, _ = venv.reset(seed=seed)
    rng = np.random.default_rng(123)
    trajectory, rewards = [obs], []
    for _ in range(steps):
        obs, reward, _, _, _ = venv.step(rng.integers(0, venv.single_action_space.n, venv.num_envs))
        trajectory.append(obs)
        rewards.append(reward)
    return np.stack(trajectory), np.stack(rewards)


@pytest.mark.parametrize("spec", _gold_specs(random=True)[:4])
def test_random_gold_specs_are_deterministic_per_seed(spec) -> None:
    compiled = compile_spec(spec)
    first = _run(compiled.make_vec(16, backend="numba"), seed=7, steps=60)
    again = _run(compiled.make_vec(16, backend="numba"), seed=7, steps=60)
    other = _run(compiled.make_vec(16, backend="numba"), seed=8, steps=60)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert all(np.isfinite(a).all() for a in first)


def draws_spec() -> dict:
    """Every kind of draw stored in its own state variable (the observation shows one step's draws)."""
    draws = {
        "u": "uniform(-1, 3)",
        "g": "normal(2, 0.5)",
        "p": "poisson(lam)",
        "big": "poisson(40)",
        "b": "bernoulli(0.3)",
        "i": "integers(0, 5)",
        "c": "choice([1, 2, 7])",
    }
    return {
        "id": "alamp/Draws-v0",
        "constants": {"lam": 3.0},
        "state": [{"name": f"s_{name}", "low": -100, "high": 100, "init": "0"} for name in draws],
        "draws": [{"name": name, "expr": expr} for name, expr in draws.items()],
        "actions": [{"name": "stay"}, {"name": "go"}],
        "updates": [{"target": f"s_{name}", "expr": name} for name in draws],
        "reward": "u + g",
        "max_steps": 1000,
    }


def test_draws_follow_the_same_distributions_as_numpy() -> None:
    compiled = compile_spec(draws_spec())
    n = 4096
    samples = {}
    for backend in ("numpy", "numba"):
        venv = compiled.make_vec(n, backend=backend)
        venv.reset(seed=0)
        obs = np.concatenate([venv.step(np.zeros(n, dtype=np.int64))[0] for _ in range(5)])
        samples[backend] = obs
    expected_mean = [1.0, 2.0, 3.0, 40.0, 0.3, 2.0, 10 / 3]
    expected_std = [4 / np.sqrt(12), 0.5, np.sqrt(3.0), np.sqrt(40.0), np.sqrt(0.21), np.sqrt(2.0), np.sqrt(62 / 9)]
    for backend, obs in samples.items():
        standard_error = np.array(expected_std) / np.sqrt(obs.shape[0])
        assert np.all(np.abs(obs.mean(axis=0) - expected_mean) < 5 * standard_error), backend
        np.testing.assert_allclose(obs.std(axis=0), expected_std, rtol=0.05, err_msg=backend)
    numba_obs = samples["numba"]
    assert set(np.unique(numba_obs[:, 4])) == {0.0, 1.0}
    assert set(np.unique(numba_obs[:, 5])) == {0.0, 1.0, 2.0, 3.0, 4.0}
    assert set(np.unique(numba_obs[:, 6])) == {1.0, 2.0, 7.0}


def test_draws_equal_the_scalar_path_given_the_same_generator() -> None:
    """Env by env, the kernel draws exactly what the plain-Python path draws from the same generator."""
    compiled = compile_spec(draws_spec())
    scalar = compiled.make_vec(2, backend="numpy")  # two envs: the plain-Python path, env by env
    kernel = compiled.make_vec(2, backend="numba")
    for venv in (scalar, kernel):
        venv.reset(seed=3)
        venv.set_state(np.zeros((2, 7)))
    for _ in range(20):
        actions = np.array([0, 1])
        np.testing.assert_array_equal(kernel.step(actions)[0], scalar.step(actions)[0])


def one_variable_spec(update: str, reward: str = "x") -> dict:
    return {
        "id": "alamp/Hostile-v0",
        "constants": {"k": 2.0},
        "state": [{"name": "x", "low": -10, "high": 10, "init": "uniform(-1, 1)"}],
        "actions": [{"name": "a"}, {"name": "b"}],
        "updates": [{"target": "x", "expr": update}],
        "reward": reward,
        "max_steps": 50,
    }




@pytest.mark.parametrize(("update", "reward"), list(RUNTIME.values()), ids=list(RUNTIME))
def test_numerical_errors_are_contained(update: str, reward: str) -> None:
    venv = compile_spec(one_variable_spec(update, reward)).make_vec(8, backend="numba")
    venv.reset(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obs, rewards, terminated, truncated, info = venv.step(np.zeros(8, dtype=np.int64))
        venv.step(np.zeros(8, dtype=np.int64))  # warned once only
    assert terminated.all() and info["numerical_error"].all() and info["_final_obs"].all()
    assert (rewards == 0).all() or reward == "x"
    assert np.isfinite(obs).all() and np.isfinite(info["final_obs"]).all() and np.isfinite(rewards).all()
    messages = [str(w.message) for w in caught if "numerical error" in str(w.message)]
    assert len(messages) == 1 and "episode was terminated" in messages[0]
    assert np.isfinite(venv.get_state()).all()  # reset in the same step


def test_containment_only_hits_the_bad_envs() -> None:
    venv = compile_spec(one_variable_spec("1 / x if x != 1 else 1 / (x - 1)")).make_vec(4, backend="numba")
    venv.reset(seed=0)
    venv.set_state(np.array([[0.0], [1.0], [2.0], [4.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs, rewards, terminated, _, info = venv.step(np.zeros(4, dtype=np.int64))
    assert terminated.tolist() == [True, True, False, False]
    assert info["numerical_error"].tolist() == [True, True, False, False]
    np.testing.assert_allclose(obs[2:, 0], [0.5, 0.25])
    np.testing.assert_allclose(rewards, [0.0, 0.0, 0.5, 0.25])


def test_autoreset_truncation_and_reset_mask() -> None:
    compiled = compile_spec(one_variable_spec("x + 0.001"))
    venv = compiled.make_vec(3, backend="numba")
    venv.reset(seed=0)
    for t in range(1, 51):
        before = venv.get_state()
        _, _, terminated, truncated, info = venv.step(np.ones(3, dtype=np.int64))
        assert not terminated.any() and truncated.all() == (t == 50)
    assert info["_final_obs"].all()
    np.testing.assert_allclose(info["final_obs"][:, 0], before[:, 0] + 0.001, rtol=1e-6)
    assert np.abs(venv.get_state()).max() <= 1.0  # fresh starts, uniform(-1, 1)
    venv.set_state(np.full((3, 1), 5.0))
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False, False])})
    assert obs[0, 0] != 5.0 and obs[1:, 0].tolist() == [5.0, 5.0]


def test_actions_are_checked_and_converted() -> None:
    venv = compile_spec(one_variable_spec("x + action")).make_vec(3, backend="numba")
    venv.reset(seed=0)
    venv.set_state(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="actions must be integers in 0..1"):
        venv.step(np.array([0, 2, 1]))
    np.testing.assert_array_equal(venv.get_state(), np.zeros((3, 1)))  # nothing stepped
    obs, *_ = venv.step([1, 0, 1])
    obs, *_ = venv.step(np.array([1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(obs[:, 0], [2.0, 1.0, 1.0])


def test_backend_selection(monkeypatch) -> None:
    compiled = compile_spec(cartpole_spec())
    assert type(compiled.make_vec(4)) is SpecVectorEnv
    assert isinstance(compiled.make_vec(NUMBA_AUTO_MIN_ENVS), NumbaSpecVectorEnv)
    assert type(compiled.make_vec(NUMBA_AUTO_MIN_ENVS, backend="numpy")) is SpecVectorEnv
    assert isinstance(compile_spec(cartpole_spec(), backend="numba").make_vec(2), NumbaSpecVectorEnv)
    with pytest.raises(ValueError, match="backend must be one of"):
        compiled.make_vec(4, backend="cuda")
    env_id = compiled.register("alamp/NumbaCartPole-v0")
    venv = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point", backend="numba")
    assert isinstance(venv, NumbaSpecVectorEnv) and venv.reset(seed=0)[0].shape == (5, 4)

    import alamp.spec.compiled as compiled_module
    import alamp.spec.numba_backend as backend_module

    monkeypatch.setattr(backend_module.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(compiled_module, "numba_available", backend_module.numba_available)
    assert type(compiled.make_vec(NUMBA_AUTO_MIN_ENVS)) is SpecVectorEnv  # auto falls back silently
    with pytest.raises(ImportError, match=r"pip install 'alamp\[fast\]'"):
        compiled.make_vec(8, backend="numba")
    with pytest.raises(ImportError, match=r"pip install 'alamp\[fast\]'"):
        compile_spec(cartpole_spec(), backend="numba")
