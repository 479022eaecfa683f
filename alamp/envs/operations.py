"""Operations-research reference environments for the train/dev tasks.

Each is written in the EnvSpec step shape (draws, then deterministic updates; see :mod:`alamp.envs.base`) so the
task's gold spec reproduces it. The known policy of each is named in its docstring.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from alamp.envs.base import DrawOutcome, ReferenceEnv

__all__ = [
    "MachineReplacementEnv",
    "QueueAdmissionEnv",
    "BatteryArbitrageEnv",
    "ServerAutoscalingEnv",
    "ReservoirEnv",
]


class MachineReplacementEnv(ReferenceEnv):
    """A machine wears by 0, 1 or 2 levels a day; replace it (cost) or keep paying rising running costs.

    Known policy: value iteration (gamma 0.99), optimal.
    """

    state_names: ClassVar[tuple[str, ...]] = ("condition",)
    state_low: ClassVar[tuple[float, ...]] = (0.0,)
    state_high: ClassVar[tuple[float, ...]] = (10.0,)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("keep", "replace")

    max_condition: ClassVar[float] = 10.0
    wear_prob_a: ClassVar[float] = 0.6
    wear_prob_b: ClassVar[float] = 0.4
    operating_cost: ClassVar[float] = 1.0
    replace_cost: ClassVar[float] = 12.0
    failure_cost: ClassVar[float] = 20.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([0.0])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"wear_a": float(rng.random() < self.wear_prob_a), "wear_b": float(rng.random() < self.wear_prob_b)}

    def draw_outcomes(self) -> list[DrawOutcome]:
        pa, pb = self.wear_prob_a, self.wear_prob_b
        return [
            (pa_ * pb_, {"wear_a": a, "wear_b": b})
            for a, pa_ in ((0.0, 1 - pa), (1.0, pa))
            for b, pb_ in ((0.0, 1 - pb), (1.0, pb))
        ]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        replaced = float(action == 1)
        start = 0.0 if replaced else state[0]
        condition = min(start + draws["wear_a"] + draws["wear_b"], self.max_condition)
        broken = float(condition >= self.max_condition)
        reward = -(self.replace_cost * replaced + self.operating_cost * start + self.failure_cost * broken)
        return np.array([condition]), reward, False


class QueueAdmissionEnv(ReferenceEnv):
    """Admit or reject the waiting customer of a single-server queue; revenue per admission, holding cost per slot.

    Known policy: value iteration (gamma 0.99), optimal (a threshold on the queue length).
    """

    state_names: ClassVar[tuple[str, ...]] = ("queue_length", "customer_waiting")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 1.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("reject", "admit")

    capacity: ClassVar[float] = 10.0
    arrival_prob: ClassVar[float] = 0.7
    service_prob: ClassVar[float] = 0.5
    admission_reward: ClassVar[float] = 6.0
    holding_cost: ClassVar[float] = 1.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([0.0, float(rng.random() < self.arrival_prob)])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {
            "next_arrival": float(rng.random() < self.arrival_prob),
            "service": float(rng.random() < self.service_prob),
        }

    def draw_outcomes(self) -> list[DrawOutcome]:
        pa, ps = self.arrival_prob, self.service_prob
        return [
            (pa_ * ps_, {"next_arrival": a, "service": s})
            for a, pa_ in ((0.0, 1 - pa), (1.0, pa))
            for s, ps_ in ((0.0, 1 - ps), (1.0, ps))
        ]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        queue, waiting = state
        admitted = float(action == 1 and waiting > 0.5 and queue < self.capacity)
        queue += admitted
        departed = draws["service"] if queue > 0 else 0.0
        queue -= departed
        reward = self.admission_reward * admitted - self.holding_cost * queue
        return np.array([queue, draws["next_arrival"]]), reward, False


class BatteryArbitrageEnv(ReferenceEnv):
    """A 10-unit battery over one day: buy energy when cheap, sell it (at 90 % efficiency) when dear.

    Price: ``base_price + price_amplitude * sin(2 pi (hour - 12) / 24)`` (cheapest at 6:00, dearest at 18:00).
    The episode ends when the hour reaches 24. Known policy: backward induction / value iteration (gamma 1),
    optimal.
    """

    state_names: ClassVar[tuple[str, ...]] = ("charge", "hour")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 24.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("discharge", "idle", "charge_battery")

    capacity: ClassVar[float] = 10.0
    base_price: ClassVar[float] = 40.0
    price_amplitude: ClassVar[float] = 20.0
    efficiency: ClassVar[float] = 0.9
    initial_charge: ClassVar[float] = 0.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.initial_charge, 0.0])

    def draw_outcomes(self) -> list[DrawOutcome]:
        return [(1.0, {})]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        charge, hour = state
        price = self.base_price + self.price_amplitude * math.sin(2 * math.pi * (hour - 12) / 24)
        bought = min(1.0, self.capacity - charge) if action == 2 else 0.0
        sold = min(1.0, charge) if action == 0 else 0.0
        charge = charge + bought - sold
        hour = hour + 1
        reward = self.efficiency * price * sold - price * bought
        return np.array([charge, hour]), reward, bool(hour >= 24)


class ServerAutoscalingEnv(ReferenceEnv):
    """Scale a web service's server pool to a drifting load; pay per server and per request not served.

    Load follows ``load' = clip(0.8 load + 0.2 mean_load + normal(0, load_noise), 0, 100)``. Known policy: a
    heuristic that moves the pool towards ``ceil(expected next load / server_capacity)``.
    """

    state_names: ClassVar[tuple[str, ...]] = ("servers", "load")
    state_low: ClassVar[tuple[float, ...]] = (1.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 100.0)
    action_names: ClassVar[tuple[str, ...]] = ("remove_server", "keep", "add_server")

    min_servers: ClassVar[float] = 1.0
    max_servers: ClassVar[float] = 10.0
    server_capacity: ClassVar[float] = 10.0
    mean_load: ClassVar[float] = 50.0
    load_noise: ClassVar[float] = 8.0
    server_cost: ClassVar[float] = 1.0
    unserved_cost: ClassVar[float] = 0.5

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([5.0, float(rng.uniform(20.0, 80.0))])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"load_shock": float(rng.normal(0.0, self.load_noise))}

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.integers(1, 11)), float(rng.uniform(0.0, 100.0))])

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        servers, load = state
        servers = min(max(servers + (action - 1), self.min_servers), self.max_servers)
        load = min(max(0.8 * load + 0.2 * self.mean_load + draws["load_shock"], 0.0), 100.0)
        unserved = max(load - self.server_capacity * servers, 0.0)
        reward = -self.server_cost * servers - self.unserved_cost * unserved
        return np.array([servers, load]), reward, False


class ReservoirEnv(ReferenceEnv):
    """Release water from a small reservoir to meet a demand of 8 units a week without emptying or flooding it.

    Inflow is uniform(0, 16) a week. Known policy: a heuristic release rule (meet the demand, release extra when
    nearly full).
    """

    state_names: ClassVar[tuple[str, ...]] = ("storage",)
    state_low: ClassVar[tuple[float, ...]] = (0.0,)
    state_high: ClassVar[tuple[float, ...]] = (40.0,)
    action_names: ClassVar[tuple[str, ...]] = ("release_0", "release_4", "release_8", "release_12")

    release_sizes: ClassVar[tuple[float, ...]] = (0.0, 4.0, 8.0, 12.0)
    capacity: ClassVar[float] = 40.0
    demand: ClassVar[float] = 8.0
    max_inflow: ClassVar[float] = 16.0
    supply_value: ClassVar[float] = 1.0
    shortage_cost: ClassVar[float] = 2.0
    flood_cost: ClassVar[float] = 3.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(10.0, 30.0))])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"inflow": float(rng.uniform(0.0, self.max_inflow))}

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        storage = state[0]
        released = min(self.release_sizes[action], storage + draws["inflow"])
        storage = storage + draws["inflow"] - released
        spill = max(storage - self.capacity, 0.0)
        storage = min(storage, self.capacity)
        reward = (
            self.supply_value * min(released, self.demand)
            - self.shortage_cost * max(self.demand - released, 0.0)
            - self.flood_cost * spill
        )
        return np.array([storage]), reward, False
