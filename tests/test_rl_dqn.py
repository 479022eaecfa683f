"""The DQN trainer: learns a tiny chain, is deterministic, honours budgets and callbacks, both autoreset modes."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from rl_chain import CHAIN_CONFIG, CHAIN_LENGTH, ChainVectorEnv, make_box_chain, make_chain

from alamp.rl import DQNConfig, evaluate_policy, load_trainer_config, save_learning_curve, train_dqn


def test_dqn_solves_discrete_chain() -> None:
    result = train_dqn(config=CHAIN_CONFIG, make_env=make_chain)
    evaluation = evaluate_policy(result.policy, make_env=make_chain, episodes=10, seed=123)
    assert result.solved
    assert evaluation.mean == pytest.approx(1.0)
    assert evaluation.lengths == [CHAIN_LENGTH - 1] * 10  # the shortest path, every time
    assert result.policy.act(0) == 1


def test_dqn_solves_box_chain_with_next_step_vector_env() -> None:
    result = train_dqn(config=CHAIN_CONFIG, make_env=make_box_chain, make_vec_env=ChainVectorEnv)
    assert result.solved
    assert evaluate_policy(result.policy, make_env=make_box_chain, episodes=5).mean == pytest.approx(1.0)
    positions = np.arange(CHAIN_LENGTH - 1, dtype=np.float32)[:, None]
    assert result.policy.act_batch(positions).tolist() == [1] * (CHAIN_LENGTH - 1)


def test_same_seed_same_result() -> None:
    config = dataclasses.replace(CHAIN_CONFIG, stop_on_threshold=False, total_timesteps=1_500, eval_episodes=3)
    first = train_dqn(config=config, make_env=make_chain)
    second = train_dqn(config=config, make_env=make_chain)
    assert [r["eval_mean"] for r in first.curve] == [r["eval_mean"] for r in second.curve]
    states = np.arange(CHAIN_LENGTH)
    np.testing.assert_array_equal(first.policy.q_values(states), second.policy.q_values(states))


def test_callback_sees_every_evaluation_and_can_stop() -> None:
    seen: list[tuple[int, float]] = []

    def callback(step: int, eval_mean: float) -> bool:
        seen.append((step, eval_mean))
        return len(seen) < 2

    config = dataclasses.replace(CHAIN_CONFIG, stop_on_threshold=False)
    result = train_dqn(config=config, make_env=make_chain, callback=callback)
    assert result.stopped_by == "callback"
    assert [step for step, _ in seen] == [row["step"] for row in result.curve] == [500, 1000]
    assert result.steps == 1000


def test_callback_exception_propagates() -> None:
    class Stop(Exception):
        pass

    def callback(step: int, eval_mean: float) -> bool:
        raise Stop

    with pytest.raises(Stop):
        train_dqn(config=CHAIN_CONFIG, make_env=make_chain, callback=callback)


def test_episode_budget_stops_training() -> None:
    config = dataclasses.replace(CHAIN_CONFIG, max_episodes=10, stop_on_threshold=False, eval_episodes=2)
    result = train_dqn(config=config, make_env=make_chain)
    assert result.stopped_by == "budget"
    assert 10 <= result.episodes < 10 + config.num_envs
    assert result.steps < config.total_timesteps


def test_curve_rows_and_saved_files(tmp_path) -> None:
    config = dataclasses.replace(CHAIN_CONFIG, stop_on_threshold=False, total_timesteps=1_000, eval_episodes=2)
    result = train_dqn(config=config, make_env=make_chain)
    assert [row["step"] for row in result.curve] == [500, 1000]
    assert {"step", "episode", "eval_mean", "eval_std", "wall_s", "cpu_s"} <= set(result.curve[0])
    save_learning_curve(result.curve, tmp_path / "curve.png", tmp_path / "curve.json", threshold=1.0)
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert '"eval_mean"' in (tmp_path / "curve.json").read_text()


def test_config_rejects_bad_values_and_unknown_fields() -> None:
    with pytest.raises(ValueError, match="gamma"):
        DQNConfig(gamma=1.5)
    with pytest.raises(ValueError, match="num_envs"):
        DQNConfig(num_envs=0)
    with pytest.raises(ValueError, match="learning_rat"):
        DQNConfig.from_dict({"learning_rat": 0.1})


@pytest.mark.parametrize("preset", ["default", "fast", "tune", "mountain_car"])
def test_trainer_presets_build_configs(preset: str) -> None:
    trainer = load_trainer_config(preset)
    config = DQNConfig.from_dict(trainer["dqn"])
    assert isinstance(trainer["tune"], bool)
    assert trainer["tuner"]["search_space"]
    assert config.total_timesteps > 0


def test_default_yaml_matches_dataclass_defaults() -> None:
    assert load_trainer_config("default")["dqn"] == DQNConfig().to_dict()


def test_unsupported_spaces_are_refused() -> None:
    import gymnasium as gym

    with pytest.raises(TypeError, match="Discrete action space"):
        train_dqn(config=CHAIN_CONFIG, make_env=lambda: gym.make("Pendulum-v1"))


class CoinEnv(gym.Env):
    """One step; the reward is a fair coin whatever the action: no policy is better than another."""

    observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: int):
        return np.zeros(1, dtype=np.float32), float(self.np_random.random() < 0.5), True, False, {}


def test_a_lucky_evaluation_must_be_confirmed_on_fresh_episodes() -> None:
    # With 10 episodes an evaluation of a fair coin reaches 0.8 about one time in eighteen; two in a row about one
    # in 300. Without confirmation the trainer "solves" a task that no policy can solve.
    config = dataclasses.replace(CHAIN_CONFIG, eval_threshold=0.8, eval_every=200, total_timesteps=10_000)
    unconfirmed = train_dqn(config=dataclasses.replace(config, confirm_threshold=False), make_env=CoinEnv)
    assert unconfirmed.solved and unconfirmed.stopped_by == "threshold"
    confirmed = train_dqn(config=config, make_env=CoinEnv)
    passes = [row for row in confirmed.curve if row["eval_mean"] >= 0.8]
    assert passes and all(row["confirm_mean"] < 0.8 for row in passes)  # each lucky pass refuted, training went on
    assert not confirmed.solved and confirmed.stopped_by == "budget" and len(confirmed.curve) == 50
    assert confirmed.best_eval_mean < 0.8  # the refuted passes are scored by the mean of both evaluations
