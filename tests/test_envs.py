"""alamp's reference environments: gymnasium conformance, seeding, state access, and their known policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from alamp.envs import (
    REFERENCE_ENVS,
    AdPacingEnv,
    BikeRebalancingEnv,
    DroneDeliveryEnv,
    HospitalBedsEnv,
    InventoryManagementEnv,
    IrrigationEnv,
    ParkingPricingEnv,
    RandomPolicy,
    get_state,
    known_policy,
    register_envs,
    set_state,
    supports_state,
    value_iteration,
)
from alamp.envs.base import poisson_outcomes
from alamp.metric import evaluate_on_reference
from alamp.tasks import load_task, load_tasks, task_ids

ALAMP_IDS = sorted(REFERENCE_ENVS)


@pytest.mark.parametrize("env_id", ALAMP_IDS)
def test_reference_env_passes_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ALAMP_IDS)
def test_seeding_and_set_state(env_id: str) -> None:
    def rollout(seed: int) -> list[np.ndarray]:
        env = gym.make(env_id)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        rng = np.random.default_rng(0)
        for _ in range(30):
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            out.append(obs)
            if terminated or truncated:
                break
        return out

    first, again = rollout(3), rollout(3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))

    env = gym.make(env_id)
    env.reset(seed=0)
    state = env.unwrapped.sample_state(np.random.default_rng(1))
    obs = set_state(env, state)
    assert np.allclose(get_state(env), state)
    assert np.allclose(obs, state.astype(np.float32))
    with pytest.raises(ValueError, match="needs"):
        set_state(env, list(state) + [0.0])


def test_registration_is_idempotent() -> None:
    register_envs()
    register_envs()
    assert all(env_id in gym.registry for env_id in ALAMP_IDS)


def test_set_state_on_gymnasium_builtins() -> None:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    assert supports_state(env)
    set_state(env, [0.1, 0.0, 0.05, 0.0])
    obs, _, _, _, _ = env.step(1)
    assert obs[0] == pytest.approx(0.1) and obs[1] > 0  # pushed right from rest
    assert not supports_state(gym.make("Acrobot-v1"))
    with pytest.raises(TypeError, match="set_state"):
        set_state(gym.make("Acrobot-v1"), [0.0] * 4)


def test_toytext_wrappers_follow_gymnasium() -> None:
    ours = gym.make("alamp/CliffWalkingRowCol-v0")
    theirs = gym.make("CliffWalking-v1")
    obs, _ = ours.reset(seed=0)
    index, _ = theirs.reset(seed=0)
    for action in [0, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]:
        obs, r1, t1, _, _ = ours.step(action)
        index, r2, t2, _, _ = theirs.step(action)
        assert tuple(obs) == divmod(index, 12) and r1 == r2 and t1 == t2


def test_poisson_outcomes_sum_to_one() -> None:
    outcomes = poisson_outcomes(4.0)
    assert sum(p for p, _ in outcomes) == pytest.approx(1.0, abs=1e-12)
    assert sum(p * k for p, k in outcomes) == pytest.approx(4.0, abs=1e-6)


def test_value_iteration_finds_the_drone_shortest_path() -> None:
    env = DroneDeliveryEnv()
    policy = value_iteration(env, gamma=1.0)
    obs, _ = env.reset(seed=0)
    steps, terminated = 0, False
    while not terminated:
        obs, _, terminated, _, _ = env.step(policy.act(obs))
        steps += 1
    # Depot (0,0) -> package (2,2): 4 moves between the buildings; package -> customer (4,4): 4 moves.
    assert steps == 8 and obs[2] == 1.0 and (obs[0], obs[1]) == (4.0, 4.0)


def test_value_iteration_beats_every_constant_inventory_policy() -> None:
    policy = value_iteration(InventoryManagementEnv(), gamma=0.99)
    task = load_task("inventory")

    class Constant:
        def __init__(self, action: int) -> None:
            self.action = action

        def act(self, obs: np.ndarray) -> int:
            return self.action

    best = evaluate_on_reference(task, policy, episodes=30).mean
    for action in range(task.n_actions):
        assert best > evaluate_on_reference(task, Constant(action), episodes=30).mean


@pytest.mark.parametrize("task_id", task_ids())
def test_known_policy_reaches_the_threshold_and_random_does_not(task_id: str) -> None:
    task = load_task(task_id)
    ref = task.reference
    episodes = min(ref.eval_episodes, 30)
    best = evaluate_on_reference(task, known_policy(ref.env_id, **ref.kwargs), episodes=episodes, seed=123)
    random = evaluate_on_reference(task, RandomPolicy(task.n_actions, seed=5), episodes=episodes, seed=123)
    assert best.mean >= ref.success_threshold
    assert random.mean < ref.success_threshold
    assert best.mean > random.mean


@pytest.mark.slow
def test_stored_random_and_best_returns_are_reproduced() -> None:
    # The numbers in data/tasks were measured by bench/reference_solvable.py with exactly this protocol.
    for task in load_tasks():
        best = evaluate_on_reference(task, known_policy(task.reference.env_id), episodes=100, seed=0).mean
        random = evaluate_on_reference(task, RandomPolicy(task.n_actions, seed=1), episodes=100, seed=0).mean
        assert best == pytest.approx(task.reference.best_return, abs=0.01), task.id
        assert random == pytest.approx(task.reference.random_return, abs=0.01), task.id


SERVICE_ENVS = [HospitalBedsEnv, BikeRebalancingEnv, ParkingPricingEnv, IrrigationEnv, AdPacingEnv]


@pytest.mark.parametrize("env_cls", SERVICE_ENVS, ids=lambda c: c.__name__)
def test_listed_draw_outcomes_are_the_sampled_distribution(env_cls: type) -> None:
    # Value iteration plans with draw_outcomes(); if it disagreed with _sample_draws the "optimal" policy would be
    # optimal for another environment.
    env = env_cls()
    outcomes = env.draw_outcomes()
    assert sum(p for p, _ in outcomes) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    samples = [env._sample_draws(rng) for _ in range(2000)]
    for name in outcomes[0][1]:
        listed = sum(p * draws[name] for p, draws in outcomes)
        values = np.array([s[name] for s in samples])
        assert set(values) <= {draws[name] for _, draws in outcomes}
        assert values.mean() == pytest.approx(listed, abs=4 * values.std() / np.sqrt(len(values)) + 1e-9)
