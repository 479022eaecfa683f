"""A circular replay buffer in preallocated numpy arrays (encoded observations, so sampling needs no re-encoding)."""

from __future__ import annotations

import numpy as np

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions ``(obs, action, reward, next_obs, terminated)``.

    ``terminated`` is true only when the episode really ended (not on a time-limit truncation), so the target
    bootstraps through truncations.

    Args:
        capacity: Maximum number of transitions kept.
        obs_dim: Length of an encoded observation.
    """

    def __init__(self, *, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.observations = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_observations = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    def add(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminated: np.ndarray,
    ) -> None:
        """Append a batch of transitions (leading axis = batch), overwriting the oldest when full."""
        count = len(actions)
        if count == 0:
            return
        index = (self.position + np.arange(count)) % self.capacity
        self.observations[index] = observations
        self.next_observations[index] = next_observations
        self.actions[index] = actions
        self.rewards[index] = rewards
        self.terminated[index] = terminated
        self.position = int((self.position + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def sample_indices(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` uniformly drawn indices of stored transitions (with replacement)."""
        return rng.integers(0, self.size, size=count)
