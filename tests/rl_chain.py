"""A tiny deterministic chain environment for the training-stage tests (not a test module itself)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from alamp.rl import DQNConfig

CHAIN_LENGTH = 6  # states 0..5; the goal is state 5, so the best episode takes 5 steps right and returns 1.0
CHAIN_TIME_LIMIT = 20

# Small budget that the chain needs: a few thousand steps, a few hundred gradient steps.
CHAIN_CONFIG = DQNConfig(
    total_timesteps=4_000,
    num_envs=4,
    learning_starts=200,
    train_frequency=16,
    gradient_steps=4,
    batch_size=32,
    buffer_size=5_000,
    target_update_interval=200,
    learning_rate=3e-3,
    gamma=0.9,
    exploration_fraction=0.5,
    hidden_width=32,
    eval_every=500,
    eval_episodes=10,
    eval_threshold=1.0,
)


class ChainEnv(gym.Env):
    """Start at 0; action 1 moves right, 0 left (not below 0); reaching the end pays 1 and ends the episode.

    Args:
        box_observations: Observe the position as a Box ``[position]`` instead of a Discrete state.
        length: Number of states.
        step_delay_s: Sleep per step (lets a test catch a training process mid-trial).
    """

    def __init__(self, *, box_observations: bool = False, length: int = CHAIN_LENGTH, step_delay_s: float = 0.0):
        self.length = length
        self.box_observations = box_observations
        self.step_delay_s = step_delay_s
        self.action_space = spaces.Discrete(2)
        if box_observations:
            self.observation_space = spaces.Box(0.0, float(length - 1), shape=(1,), dtype=np.float32)
        else:
            self.observation_space = spaces.Discrete(length)
        self.position = 0
        self.steps = 0

    def _observation(self) -> Any:
        return np.array([self.position], dtype=np.float32) if self.box_observations else self.position

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return self._observation(), {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict]:
        if self.step_delay_s:
            import time

            time.sleep(self.step_delay_s)
        self.position = min(self.length - 1, self.position + 1) if int(action) == 1 else max(0, self.position - 1)
        self.steps += 1
        terminated = self.position == self.length - 1
        truncated = not terminated and self.steps >= CHAIN_TIME_LIMIT
        return self._observation(), 1.0 if terminated else 0.0, terminated, truncated, {}


class ChainVectorEnv(gym.vector.VectorEnv):
    """A numpy-batched chain with *next-step* autoreset (like gymnasium's CartPoleVectorEnv)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, length: int = CHAIN_LENGTH) -> None:
        self.num_envs = num_envs
        self.length = length
        self.single_observation_space = spaces.Box(0.0, float(length - 1), shape=(1,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0.0, float(length - 1), shape=(num_envs, 1), dtype=np.float32)
        self.action_space = spaces.MultiDiscrete([2] * num_envs)
        self.position = np.zeros(num_envs, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.prev_done = np.zeros(num_envs, dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self.position[:] = 0
        self.steps[:] = 0
        self.prev_done[:] = False
        return self.position[:, None].astype(np.float32), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        move = np.where(np.asarray(actions) == 1, 1, -1)
        self.position = np.clip(self.position + move, 0, self.length - 1)
        self.steps += 1
        terminated = self.position == self.length - 1
        truncated = ~terminated & (self.steps >= CHAIN_TIME_LIMIT)
        rewards = terminated.astype(np.float32)
        # Sub-environments that ended last step reset now; this step is not a transition.
        self.position[self.prev_done] = 0
        self.steps[self.prev_done] = 0
        rewards[self.prev_done] = 0.0
        terminated[self.prev_done] = False
        truncated[self.prev_done] = False
        self.prev_done = terminated | truncated
        return self.position[:, None].astype(np.float32), rewards, terminated, truncated, {}


def make_chain() -> ChainEnv:
    return ChainEnv()


def make_box_chain() -> ChainEnv:
    return ChainEnv(box_observations=True)
