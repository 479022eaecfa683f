"""Control reference environments for the train/dev tasks (thermostat, traffic light, fishery, epidemic, elevator).

Each is written in the EnvSpec step shape (draws, then deterministic updates; see :mod:`alamp.envs.base`) so the
task's gold spec reproduces it. None has a tractable exact solution here; each docstring names its heuristic.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alamp.envs.base import ReferenceEnv

__all__ = ["ThermostatEnv", "TrafficLightEnv", "FisheryQuotaEnv", "EpidemicControlEnv", "ElevatorEnv"]


class ThermostatEnv(ReferenceEnv):
    """Keep a room near 21 degC with a three-level heater while the outdoor temperature wanders.

    Known policy: one-step model-predictive heuristic (the power level minimising the predicted comfort plus
    energy cost of the next step).
    """

    state_names: ClassVar[tuple[str, ...]] = ("indoor_temp", "outdoor_temp")
    state_low: ClassVar[tuple[float, ...]] = (0.0, -10.0)
    state_high: ClassVar[tuple[float, ...]] = (35.0, 20.0)
    action_names: ClassVar[tuple[str, ...]] = ("heater_off", "heater_low", "heater_high")

    powers: ClassVar[tuple[float, ...]] = (0.0, 1.0, 2.0)
    setpoint: ClassVar[float] = 21.0
    leak_rate: ClassVar[float] = 0.1
    heat_gain: ClassVar[float] = 1.5
    energy_price: ClassVar[float] = 0.5
    weather_sd: ClassVar[float] = 0.5
    room_noise_sd: ClassVar[float] = 0.1

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(15.0, 20.0)), float(rng.uniform(-5.0, 10.0))])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {
            "weather_change": float(rng.normal(0.0, self.weather_sd)),
            "room_noise": float(rng.normal(0.0, self.room_noise_sd)),
        }

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        indoor, outdoor = state
        power = self.powers[action]
        indoor = indoor + self.leak_rate * (outdoor - indoor) + self.heat_gain * power + draws["room_noise"]
        indoor = min(max(indoor, 0.0), 35.0)
        outdoor = min(max(outdoor + draws["weather_change"], -10.0), 20.0)
        reward = -abs(indoor - self.setpoint) - self.energy_price * power
        return np.array([indoor, outdoor]), reward, False


class TrafficLightEnv(ReferenceEnv):
    """One intersection, two approaches (north-south, east-west); keep the green phase or switch it.

    A switch costs one slot with no departures; a green approach discharges up to 2 cars a slot; arrivals are
    Poisson. Known policy: a longest-queue heuristic with hysteresis.
    """

    state_names: ClassVar[tuple[str, ...]] = ("ns_queue", "ew_queue", "phase")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (20.0, 20.0, 1.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("keep", "switch")

    ns_rate: ClassVar[float] = 0.5
    ew_rate: ClassVar[float] = 0.4
    discharge: ClassVar[float] = 2.0
    max_queue: ClassVar[float] = 20.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([0.0, 0.0, 0.0])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"ns_arrivals": float(rng.poisson(self.ns_rate)), "ew_arrivals": float(rng.poisson(self.ew_rate))}

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        ns, ew, phase = state
        switching = action == 1
        if switching:
            phase = 1.0 - phase
        out_ns = min(ns, self.discharge) if (not switching and phase < 0.5) else 0.0
        out_ew = min(ew, self.discharge) if (not switching and phase > 0.5) else 0.0
        ns = min(ns - out_ns + draws["ns_arrivals"], self.max_queue)
        ew = min(ew - out_ew + draws["ew_arrivals"], self.max_queue)
        return np.array([ns, ew, phase]), -float(ns + ew), False


class FisheryQuotaEnv(ReferenceEnv):
    """Set a yearly harvest quota (share of the biomass) on a logistically growing fish stock with noisy growth.

    A stock below ``collapse_level`` collapses (penalty, episode ends). Known policy: constant escapement at
    half the carrying capacity (a heuristic; optimal for the deterministic logistic model).
    """

    state_names: ClassVar[tuple[str, ...]] = ("biomass",)
    state_low: ClassVar[tuple[float, ...]] = (0.0,)
    state_high: ClassVar[tuple[float, ...]] = (100.0,)
    action_names: ClassVar[tuple[str, ...]] = ("quota_0", "quota_15", "quota_30", "quota_45", "quota_60")

    quotas: ClassVar[tuple[float, ...]] = (0.0, 0.15, 0.3, 0.45, 0.6)
    growth_rate: ClassVar[float] = 0.5
    carrying_capacity: ClassVar[float] = 100.0
    collapse_level: ClassVar[float] = 10.0
    collapse_penalty: ClassVar[float] = 50.0
    growth_noise_sd: ClassVar[float] = 0.2

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(30.0, 70.0))])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"growth_shock": float(rng.normal(0.0, self.growth_noise_sd))}

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        biomass = state[0]
        harvest = self.quotas[action] * biomass
        escaped = biomass - harvest
        growth = self.growth_rate * escaped * (1.0 - escaped / self.carrying_capacity) * (1.0 + draws["growth_shock"])
        biomass = min(max(escaped + growth, 0.0), self.carrying_capacity)
        collapsed = biomass < self.collapse_level
        reward = harvest - self.collapse_penalty * float(collapsed)
        return np.array([biomass]), reward, bool(collapsed)


class EpidemicControlEnv(ReferenceEnv):
    """Daily SIR epidemic; choose no measures, social distancing or lockdown (lower contact rate, daily cost).

    Deterministic given the random initial outbreak size. Known policy: a threshold heuristic on the
    infected share.
    """

    state_names: ClassVar[tuple[str, ...]] = ("susceptible", "infected")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (1.0, 1.0)
    action_names: ClassVar[tuple[str, ...]] = ("no_measures", "distancing", "lockdown")

    contact_rates: ClassVar[tuple[float, ...]] = (0.3, 0.18, 0.08)
    measure_costs: ClassVar[tuple[float, ...]] = (0.0, 0.05, 0.2)
    recovery_rate: ClassVar[float] = 0.1
    infection_cost: ClassVar[float] = 30.0
    initial_susceptible: ClassVar[float] = 0.99

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        # One per cent of the population is immune from the start; the outbreak's size is random.
        return np.array([self.initial_susceptible, float(rng.uniform(0.005, 0.02))])

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        s = float(rng.uniform(0.0, 1.0))
        return np.array([s, float(rng.uniform(0.0, 1.0 - s))])

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        susceptible, infected = state
        new_infections = self.contact_rates[action] * susceptible * infected
        susceptible = susceptible - new_infections
        infected = infected + new_infections - self.recovery_rate * infected
        reward = -(self.infection_cost * new_infections + self.measure_costs[action])
        return np.array([susceptible, infected]), reward, False


class ElevatorEnv(ReferenceEnv):
    """One elevator, four floors (0 = lobby); people appear on floors 1-3 and all want the lobby.

    Reward: minus the number of people waiting or riding (their total time in the system). Known policy: a
    collective down-peak heuristic (pick up on the way, serve the highest call, unload at the lobby).
    """

    state_names: ClassVar[tuple[str, ...]] = ("floor", "onboard", "waiting_1", "waiting_2", "waiting_3")
    state_low: ClassVar[tuple[float, ...]] = (0.0,) * 5
    state_high: ClassVar[tuple[float, ...]] = (3.0, 9.0, 3.0, 3.0, 3.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("move_up", "move_down", "open_doors")

    arrival_prob: ClassVar[float] = 0.1
    max_waiting: ClassVar[float] = 3.0
    max_onboard: ClassVar[float] = 9.0
    top_floor: ClassVar[float] = 3.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(5)

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {f"new_{f}": float(rng.random() < self.arrival_prob) for f in range(1, 4)}

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        floor, onboard = state[0], state[1]
        waiting = state[2:5].copy()
        opened = action == 2
        move = {0: 1.0, 1: -1.0, 2: 0.0}[action]
        picked = waiting[int(floor) - 1] if (opened and floor >= 1) else 0.0
        delivered = onboard if (opened and floor == 0) else 0.0
        onboard = min(onboard - delivered + picked, self.max_onboard)
        for f in range(1, 4):
            cleared = 0.0 if (opened and floor == f) else waiting[f - 1]
            waiting[f - 1] = min(cleared + draws[f"new_{f}"], self.max_waiting)
        floor = min(max(floor + move, 0.0), self.top_floor)
        reward = -float(onboard + waiting.sum())
        return np.array([floor, onboard, *waiting]), reward, False
