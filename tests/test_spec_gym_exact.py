"""The hand-written CartPole-v1 and MountainCar-v0 specs reproduce gymnasium's environments exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from alamp.spec import compile_spec
from alamp.spec.examples import cartpole_spec, mountain_car_spec

N_TRANSITIONS = 3000


def _cartpole_states(rng: np.random.Generator, n: int) -> np.ndarray:
    # around and beyond the termination thresholds, so that both outcomes are exercised
    scale = np.array([3.0, 3.0, 0.3, 3.0])
    return rng.uniform(-scale, scale, size=(n, 4))


def _mountain_car_states(rng: np.random.Generator, n: int) -> np.ndarray:
    states = np.column_stack([rng.uniform(-1.2, 0.6, n), rng.uniform(-0.07, 0.07, n)])
    states[: n // 10, 0] = -1.2  # at the left wall, where velocity is zeroed
    states[n // 10 : n // 5, 0] = rng.uniform(0.45, 0.6, n // 10)  # near the goal
    return states


CASES = [
    ("CartPole-v1", cartpole_spec, _cartpole_states, 500),
    ("MountainCar-v0", mountain_car_spec, _mountain_car_states, 200),
]


@pytest.mark.parametrize(("gym_id", "make_spec", "make_states", "horizon"), CASES, ids=[c[0] for c in CASES])
def test_random_transitions_match_gymnasium(gym_id, make_spec, make_states, horizon) -> None:
    reference = gym.make(gym_id)
    reference.reset(seed=0)
    env = compile_spec(make_spec()).make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    states = make_states(rng, N_TRANSITIONS)
    actions = rng.integers(0, reference.action_space.n, N_TRANSITIONS)
    outcomes = set()
    for state, action in zip(states, actions, strict=True):
        reference.unwrapped.state = state.copy()
        if hasattr(reference.unwrapped, "steps_beyond_terminated"):
            reference.unwrapped.steps_beyond_terminated = None
        env.set_state(state)
        ref_obs, ref_reward, ref_term, _, _ = reference.step(int(action))
        obs, reward, term, _, _ = env.step(int(action))
        np.testing.assert_allclose(env.get_state(), np.asarray(reference.unwrapped.state, dtype=np.float64),
                                   rtol=0, atol=1e-9)
        np.testing.assert_allclose(obs, ref_obs, rtol=0, atol=1e-6)
        assert obs.dtype == np.float32
        assert reward == ref_reward
        assert term == ref_term
        outcomes.add(term)
    assert outcomes == {True, False}


@pytest.mark.parametrize(("gym_id", "make_spec", "make_states", "horizon"), CASES, ids=[c[0] for c in CASES])
def test_truncation_matches_gymnasium(gym_id, make_spec, make_states, horizon) -> None:
    reference = gym.make(gym_id)
    env = compile_spec(make_spec()).make_env()
    reference.reset(seed=0)
    env.reset(seed=0)
    rng = np.random.default_rng(2)
    start = np.asarray(reference.unwrapped.state, dtype=np.float64) * 0  # a state that does not terminate
    start[0] = -0.5 if gym_id.startswith("Mountain") else 0.0
    for t in range(1, horizon + 1):
        reference.unwrapped.state = start.copy()
        env.set_state(start)
        action = int(rng.integers(reference.action_space.n))
        _, _, ref_term, ref_trunc, _ = reference.step(action)
        _, _, term, trunc, _ = env.step(action)
        assert (term, trunc) == (ref_term, ref_trunc) == (False, t == horizon)


@pytest.mark.parametrize("make_spec", [cartpole_spec, mountain_car_spec])
def test_check_env_passes(make_spec) -> None:
    check_env(compile_spec(make_spec()).make_env(), skip_render_check=True)


@pytest.mark.parametrize(("gym_id", "make_spec", "make_states", "horizon"), CASES, ids=[c[0] for c in CASES])
def test_batched_matches_single(gym_id, make_spec, make_states, horizon) -> None:
    compiled = compile_spec(make_spec())
    rng = np.random.default_rng(3)
    n = 64
    venv = compiled.make_vec(n)
    venv.reset(seed=0)
    env = compiled.make_env()
    env.reset(seed=0)
    for _ in range(20):
        states = make_states(rng, n)
        actions = rng.integers(0, compiled.action_space.n, n)
        venv.set_state(states)
        obs, rewards, terminated, truncated, info = venv.step(actions)
        for i in range(n):
            env.set_state(states[i])
            single_obs, reward, term, _, _ = env.step(int(actions[i]))
            expected_obs = info["final_obs"][i] if term else single_obs
            np.testing.assert_allclose(expected_obs, single_obs, rtol=0, atol=1e-6)
            if not term:
                np.testing.assert_allclose(obs[i], single_obs, rtol=0, atol=1e-6)
            assert rewards[i] == reward
            assert terminated[i] == term
        assert not truncated.any()
