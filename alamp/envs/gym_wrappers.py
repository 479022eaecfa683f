"""Gymnasium's own environments behind the interface a task description states.

Each class runs the gymnasium environment itself (its dynamics, rewards and random numbers are used unchanged) and
only adapts what a task's stated interface needs: a discrete set of torques for ``Pendulum-v1``, the state as
separate numbers instead of one ``Discrete`` index for the toy-text grids (``Taxi-v3``, slippery ``FrozenLake-v1``,
the 8 x 8 lake). As in :mod:`alamp.envs.toytext`, the observation is the state, in the order the description
states it, so ``set_state``/``get_state`` and the fidelity check work on them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.pendulum import PendulumEnv, angle_normalize
from gymnasium.envs.toy_text.cliffwalking import CliffWalkingEnv
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv
from gymnasium.envs.toy_text.taxi import TaxiEnv

from alamp.envs.base import DrawOutcome, ReferenceEnv
from alamp.envs.toytext import _GridWrapperEnv

__all__ = [
    "DiscretePendulumEnv",
    "PendulumBalanceEnv",
    "TaxiRowColEnv",
    "SlipperyFrozenLakeRowColEnv",
    "SlipperyCliffWalkingRowColEnv",
    "FrozenLake8x8RowColEnv",
]


class DiscretePendulumEnv(ReferenceEnv):
    """``Pendulum-v1`` (g = 10) with three torques (-2, 0, +2) and the state (angle, angular velocity) observed.

    Gymnasium observes ``(cos θ, sin θ, θ̇)`` of an angle that is never wrapped; here the angle is kept wrapped
    into ``[-π, π)`` (0 = upright), which changes nothing in the dynamics or the reward (both read ``sin θ`` and
    the wrapped angle only), so the observation is the whole state. Known policy: energy pumping, then a
    proportional-derivative hold near the top (heuristic).
    """

    state_names: ClassVar[tuple[str, ...]] = ("theta", "theta_dot")
    state_low: ClassVar[tuple[float, ...]] = (-math.pi, -8.0)
    state_high: ClassVar[tuple[float, ...]] = (math.pi, 8.0)
    action_names: ClassVar[tuple[str, ...]] = ("torque_minus", "coast", "torque_plus")
    torques: ClassVar[tuple[float, ...]] = (-2.0, 0.0, 2.0)
    #: ``options`` of gymnasium's ``reset``: the start is uniform in [-x_init, x_init] x [-y_init, y_init].
    reset_options: ClassVar[dict[str, float] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self._inner = PendulumEnv(g=10.0)

    def _wrap(self) -> np.ndarray:
        theta, theta_dot = (float(v) for v in self._inner.state)
        self._inner.state = np.array([float(angle_normalize(theta)), theta_dot])
        return self._inner.state.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        gym.Env.reset(self, seed=seed)
        self._inner.reset(seed=seed, options=self.reset_options)
        self._state = self._wrap()
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = int(action)
        if not 0 <= a < self.action_space.n:
            raise ValueError(f"action {action!r} is out of range; {type(self).__name__} has {self.action_space.n}")
        # float64 torque: a float32 one would make gymnasium compute the step in single precision.
        _, reward, _, _, _ = self._inner.step(np.array([self.torques[a]], dtype=np.float64))
        self._state = self._wrap()
        return self._obs(), float(reward), False, False, {}

    def set_state(self, values: Any) -> np.ndarray:
        obs = super().set_state(values)
        self._inner.state = self._state.copy()
        return obs

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        saved = (self._inner.state.copy() if self._inner.state is not None else None), self._state.copy()
        try:
            self.set_state(state)
            obs, reward, terminated, _, _ = self.step(action)
            return self._state.copy(), reward, terminated
        finally:
            self._inner.state, self._state = saved


class PendulumBalanceEnv(DiscretePendulumEnv):
    """``Pendulum-v1`` (g = 10) started near the top (gymnasium's reset options ``x_init=0.2``, ``y_init=0.5``),
    with five torques (-2, -1, 0, +1, +2); observed as (angle, angular velocity) like :class:`DiscretePendulumEnv`.

    Known policy: a proportional-derivative hold rounded to the nearest torque (heuristic).
    """

    action_names: ClassVar[tuple[str, ...]] = ("push_minus_two", "push_minus_one", "hold", "push_plus_one",
                                               "push_plus_two")
    torques: ClassVar[tuple[float, ...]] = (-2.0, -1.0, 0.0, 1.0, 2.0)
    reset_options: ClassVar[dict[str, float] | None] = {"x_init": 0.2, "y_init": 0.5}


class TaxiRowColEnv(_GridWrapperEnv):
    """``Taxi-v3`` observed as (taxi row, taxi column, passenger location, destination).

    Passenger location 0-3 is one of the stands R (0, 0), G (0, 4), Y (4, 0), B (4, 3) and 4 is in the taxi;
    the destination is a stand. Actions as gymnasium's: south, north, east, west, pickup, dropoff. Known policy:
    value iteration (optimal).
    """

    state_names: ClassVar[tuple[str, ...]] = ("row", "col", "passenger", "destination")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0, 0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (4.0, 4.0, 4.0, 3.0)
    action_names: ClassVar[tuple[str, ...]] = ("south", "north", "east", "west", "pickup", "dropoff")

    def __init__(self) -> None:
        super().__init__(TaxiEnv())

    def _cell(self, index: int) -> np.ndarray:
        return np.array(self._inner.unwrapped.decode(int(index)), dtype=np.float64)

    def _index(self, state: np.ndarray) -> int:
        return int(self._inner.unwrapped.encode(*(int(round(v)) for v in state)))

    def all_states(self, *, limit: int = 10_000) -> list[np.ndarray] | None:
        """Every state an episode continues from (a passenger waiting at its destination has been delivered)."""
        return [
            np.array([r, c, p, d], dtype=np.float64)
            for r in range(5)
            for c in range(5)
            for p in range(5)
            for d in range(4)
            if p != d
        ]


class _SlipperyGridWrapperEnv(_GridWrapperEnv):
    """A slippery gymnasium grid: the move goes where asked or to either side of it, each with probability 1/3."""

    def draw_outcomes(self) -> list[DrawOutcome]:
        # gymnasium lists a slippery cell's outcomes in the order: (a - 1) % 4, a, (a + 1) % 4.
        return [(1.0 / 3.0, {"slip": -1.0}), (1.0 / 3.0, {"slip": 0.0}), (1.0 / 3.0, {"slip": 1.0})]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        outcomes = self._inner.unwrapped.P[self._index(state)][action]
        _, nxt, reward, terminated = outcomes[int(draws["slip"]) + 1 if len(outcomes) == 3 else 0]
        return self._cell(nxt), float(reward), bool(terminated)


class SlipperyFrozenLakeRowColEnv(_SlipperyGridWrapperEnv):
    """``FrozenLake-v1`` with the 4 x 4 map, slippery (gymnasium's default), observed as (row, col).

    Actions as gymnasium's: left, down, right, up. Known policy: value iteration with discount 0.99 (optimal for
    the discounted problem, near-optimal for reaching the goal within the episode limit).
    """

    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (3.0, 3.0)
    action_names: ClassVar[tuple[str, ...]] = ("left", "down", "right", "up")
    n_cols: ClassVar[int] = 4

    def __init__(self) -> None:
        super().__init__(FrozenLakeEnv(map_name="4x4", is_slippery=True))

    def _is_terminal_cell(self, row: int, col: int) -> bool:
        return self._inner.unwrapped.desc[row, col] in (b"H", b"G")


class SlipperyCliffWalkingRowColEnv(_SlipperyGridWrapperEnv):
    """``CliffWalking-v1`` with ``is_slippery=True`` (4 x 12, start (3, 0), goal (3, 11)), observed as (row, col).

    Actions as gymnasium's: up, right, down, left. Known policy: value iteration with discount 0.99.
    """

    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (3.0, 11.0)
    action_names: ClassVar[tuple[str, ...]] = ("up", "right", "down", "left")
    n_cols: ClassVar[int] = 12

    def __init__(self) -> None:
        super().__init__(CliffWalkingEnv(is_slippery=True))

    def _is_terminal_cell(self, row: int, col: int) -> bool:
        return row == 3 and col >= 1


class FrozenLake8x8RowColEnv(_GridWrapperEnv):
    """``FrozenLake-v1`` with the 8 x 8 map and ``is_slippery=False``, observed as (row, col).

    Actions as gymnasium's: left, down, right, up. Known policy: a shortest path avoiding holes (optimal).
    """

    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (7.0, 7.0)
    action_names: ClassVar[tuple[str, ...]] = ("left", "down", "right", "up")
    n_cols: ClassVar[int] = 8

    def __init__(self) -> None:
        super().__init__(FrozenLakeEnv(map_name="8x8", is_slippery=False))

    def _is_terminal_cell(self, row: int, col: int) -> bool:
        return self._inner.unwrapped.desc[row, col] in (b"H", b"G")
