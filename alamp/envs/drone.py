"""Drone delivery on a 5x5 grid: fly from the depot to the package, then to the destination, within a battery budget."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alamp.envs.base import DrawOutcome, ReferenceEnv

__all__ = ["DroneDeliveryEnv"]


class DroneDeliveryEnv(ReferenceEnv):
    """A grid world with a depot, a package, a destination, obstacles and a battery budget.

    Row 0 is the north edge. A move into an obstacle or off the grid leaves the drone where it is; every move
    uses one unit of battery. The package is picked up on entering its cell; it is delivered on entering the
    destination while carrying it (+``delivery_reward``, episode ends). An empty battery before delivery ends
    the episode with ``-crash_penalty``. Every move costs ``move_cost``. Deterministic; the known policy is
    the shortest path (value iteration on the finite state space), which is optimal.
    """

    state_names: ClassVar[tuple[str, ...]] = ("row", "col", "has_package", "battery")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0, 0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (4.0, 4.0, 1.0, 25.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("north", "south", "east", "west")

    grid_size: ClassVar[int] = 5
    depot: ClassVar[tuple[int, int]] = (0, 0)
    package: ClassVar[tuple[int, int]] = (2, 2)
    destination: ClassVar[tuple[int, int]] = (4, 4)
    obstacles: ClassVar[frozenset[tuple[int, int]]] = frozenset({(1, 1), (1, 3), (3, 1), (3, 3)})
    battery_capacity: ClassVar[float] = 25.0
    move_cost: ClassVar[float] = 1.0
    delivery_reward: ClassVar[float] = 50.0
    crash_penalty: ClassVar[float] = 20.0

    _moves: ClassVar[tuple[tuple[int, int], ...]] = ((-1, 0), (1, 0), (0, 1), (0, -1))

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([*self.depot, 0.0, self.battery_capacity], dtype=np.float64)

    def draw_outcomes(self) -> list[DrawOutcome]:
        return [(1.0, {})]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        row, col, has_package, battery = state
        dr, dc = self._moves[action]
        nr = min(max(row + dr, 0), self.grid_size - 1)
        nc = min(max(col + dc, 0), self.grid_size - 1)
        if (int(nr), int(nc)) not in self.obstacles:
            row, col = nr, nc
        battery -= 1.0
        if has_package < 0.5 and (row, col) == self.package:
            has_package = 1.0
        delivered = has_package > 0.5 and (row, col) == self.destination
        depleted = battery <= 0 and not delivered
        reward = -self.move_cost + self.delivery_reward * delivered - self.crash_penalty * depleted
        terminated = bool(delivered or battery <= 0)
        return np.array([row, col, has_package, battery], dtype=np.float64), float(reward), terminated
