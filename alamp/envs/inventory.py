"""Single-item inventory control with random (Poisson) demand, lost sales, holding, shortage and ordering costs."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alamp.envs.base import DrawOutcome, ReferenceEnv, poisson_outcomes

__all__ = ["InventoryManagementEnv"]


class InventoryManagementEnv(ReferenceEnv):
    """Each day: order (arrives at once, only what fits in the warehouse), then Poisson demand, lost sales.

    Reward (daily profit): ``price * sales - unit_cost * received - order_cost * [received > 0]
    - holding_cost * stock_left - shortage_cost * lost``. Finite state space; the known policy is value
    iteration on the discounted problem (gamma 0.99), optimal for it and near-optimal for the 60-day return.
    """

    state_names: ClassVar[tuple[str, ...]] = ("stock",)
    state_low: ClassVar[tuple[float, ...]] = (0.0,)
    state_high: ClassVar[tuple[float, ...]] = (20.0,)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("order_0", "order_4", "order_8", "order_12")

    order_sizes: ClassVar[tuple[float, ...]] = (0.0, 4.0, 8.0, 12.0)
    capacity: ClassVar[float] = 20.0
    demand_rate: ClassVar[float] = 4.0
    price: ClassVar[float] = 4.0
    unit_cost: ClassVar[float] = 2.0
    order_cost: ClassVar[float] = 5.0
    holding_cost: ClassVar[float] = 0.5
    shortage_cost: ClassVar[float] = 2.0
    initial_stock: ClassVar[float] = 10.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.initial_stock])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"demand": float(rng.poisson(self.demand_rate))}

    def draw_outcomes(self) -> list[DrawOutcome]:
        return [(p, {"demand": float(k)}) for p, k in poisson_outcomes(self.demand_rate)]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        stock = state[0]
        received = min(self.order_sizes[action], self.capacity - stock)
        available = stock + received
        sales = min(available, draws["demand"])
        lost = draws["demand"] - sales
        stock = available - sales
        reward = (
            self.price * sales
            - self.unit_cost * received
            - self.order_cost * (received > 0)
            - self.holding_cost * stock
            - self.shortage_cost * lost
        )
        return np.array([stock]), float(reward), False
