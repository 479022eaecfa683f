"""Wireless downlink scheduling: one base station, three users, one user served per time slot."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alamp.envs.base import ReferenceEnv

__all__ = ["WirelessSchedulingEnv"]


class WirelessSchedulingEnv(ReferenceEnv):
    """Three users with packet queues and good/bad channels; the scheduler serves one user per slot.

    Per slot: each user's arrival is Bernoulli(``arrival_prob``); the served user sends ``min(queue, rate)``
    packets, where rate is ``good_rate`` on a good channel and ``bad_rate`` on a bad one; queues are capped at
    ``buffer_size`` (overflow is lost); then every channel is redrawn good with probability ``good_prob``.
    Reward: minus the total backlog after the slot. Known policy: max-weight scheduling (a heuristic).
    """

    state_names: ClassVar[tuple[str, ...]] = ("queue_1", "queue_2", "queue_3", "channel_1", "channel_2", "channel_3")
    state_low: ClassVar[tuple[float, ...]] = (0.0,) * 6
    state_high: ClassVar[tuple[float, ...]] = (10.0, 10.0, 10.0, 1.0, 1.0, 1.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("serve_user_1", "serve_user_2", "serve_user_3")

    arrival_prob: ClassVar[tuple[float, ...]] = (0.5, 0.4, 0.3)
    good_prob: ClassVar[tuple[float, ...]] = (0.8, 0.5, 0.3)
    good_rate: ClassVar[float] = 2.0
    bad_rate: ClassVar[float] = 1.0
    buffer_size: ClassVar[float] = 10.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        channels = [float(rng.random() < p) for p in self.good_prob]
        return np.array([0.0, 0.0, 0.0, *channels])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        draws = {f"arrival_{i + 1}": float(rng.random() < p) for i, p in enumerate(self.arrival_prob)}
        draws.update({f"next_channel_{i + 1}": float(rng.random() < p) for i, p in enumerate(self.good_prob)})
        return draws

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        nxt = state.copy()
        for i in range(3):
            rate = self.good_rate if state[3 + i] > 0.5 else self.bad_rate
            sent = min(state[i], rate) if action == i else 0.0
            nxt[i] = min(state[i] - sent + draws[f"arrival_{i + 1}"], self.buffer_size)
        for i in range(3):
            nxt[3 + i] = draws[f"next_channel_{i + 1}"]
        reward = -float(nxt[0] + nxt[1] + nxt[2])
        return nxt, reward, False


def max_weight_action(obs: np.ndarray) -> int:
    """Max-weight scheduling: serve the user with the largest queue x rate (ties: lowest index)."""
    rates = np.where(np.asarray(obs[3:6]) > 0.5, WirelessSchedulingEnv.good_rate, WirelessSchedulingEnv.bad_rate)
    weights = np.minimum(np.asarray(obs[0:3]), rates) * 1000.0 + np.asarray(obs[0:3]) * rates
    return int(np.argmax(weights))
