"""Service-operations reference environments (hospital beds, bike share, parking, irrigation, ad pacing).

Each is written in the EnvSpec step shape (draws, then deterministic updates; see :mod:`alamp.envs.base`) so the
task's gold spec reproduces it literally, and each is finite (integer states, a finite list of draw outcomes), so
its known policy is value iteration (:mod:`alamp.envs.planning`). The step order of each is in its docstring.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import numpy as np

from alamp.envs.base import DrawOutcome, ReferenceEnv

__all__ = [
    "HospitalBedsEnv",
    "BikeRebalancingEnv",
    "ParkingPricingEnv",
    "IrrigationEnv",
    "AdPacingEnv",
]


def _uniform_outcomes(**ranges: tuple[float, ...]) -> list[DrawOutcome]:
    """Every joint outcome of independent draws, each uniform over its listed values (repeats count twice)."""
    names = list(ranges)
    outcomes: list[DrawOutcome] = []
    for values in itertools.product(*(ranges[n] for n in names)):
        p = float(np.prod([1.0 / len(ranges[n]) for n in names]))
        outcomes.append((p, dict(zip(names, map(float, values), strict=True))))
    return outcomes


class HospitalBedsEnv(ReferenceEnv):
    """A 10-bed ward: schedule 0, 1 or 2 elective admissions a day while keeping beds for emergencies.

    Step: discharges (0-3, never more than the occupied beds) → electives admitted from the waiting list (at most
    the plan, the list and the free beds) → emergencies (0-2) take free beds, the rest are diverted → new
    referrals (0-2) join the waiting list (capped at 6). Reward (hundreds of euros): 3 per elective admitted, −10
    per diverted emergency, −0.2 per patient on the list at the end of the day. Known policy: value iteration
    (gamma 0.99).
    """

    state_names: ClassVar[tuple[str, ...]] = ("occupied_beds", "waiting_list")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 6.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("admit_none", "admit_one", "admit_two")

    beds: ClassVar[float] = 10.0
    max_waiting: ClassVar[float] = 6.0
    elective_revenue: ClassVar[float] = 3.0
    diversion_cost: ClassVar[float] = 10.0
    waiting_cost: ClassVar[float] = 0.2
    initial_occupied: ClassVar[float] = 7.0
    initial_waiting: ClassVar[float] = 2.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.initial_occupied, self.initial_waiting])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {
            "discharges": float(rng.integers(0, 4)),
            "emergencies": float(rng.integers(0, 3)),
            "referrals": float(rng.integers(0, 3)),
        }

    def draw_outcomes(self) -> list[DrawOutcome]:
        return _uniform_outcomes(discharges=(0, 1, 2, 3), emergencies=(0, 1, 2), referrals=(0, 1, 2))

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        occupied, waiting = state
        occupied -= min(draws["discharges"], occupied)
        admitted = min(float(action), waiting, self.beds - occupied)
        occupied += admitted
        waiting -= admitted
        placed = min(draws["emergencies"], self.beds - occupied)
        diverted = draws["emergencies"] - placed
        occupied += placed
        waiting = min(waiting + draws["referrals"], self.max_waiting)
        reward = self.elective_revenue * admitted - self.diversion_cost * diverted - self.waiting_cost * waiting
        return np.array([occupied, waiting]), reward, False


class BikeRebalancingEnv(ReferenceEnv):
    """A 10-dock bike-share station over a 12-hour day; a van can drop off or collect 3 bikes an hour.

    Step: the van's move (drop off: up to 3 bikes, as many as there are free docks; collect: up to 3, as many as
    there are bikes; either costs 2) → rentals (wanted 0-3 in the first 6 hours, 0-1 after; unmet ones cost 3) →
    returns (0-1 in the first 6 hours, 0-3 after; those finding no free dock cost 2) → the hour advances; the day
    ends at hour 12. The start is 2-8 bikes, equally likely. Known policy: value iteration (gamma 1), optimal.
    """

    state_names: ClassVar[tuple[str, ...]] = ("bikes", "hour")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 12.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("drop_off", "no_visit", "collect")

    docks: ClassVar[float] = 10.0
    van_load: ClassVar[float] = 3.0
    van_cost: ClassVar[float] = 2.0
    lost_rental_cost: ClassVar[float] = 3.0
    full_dock_cost: ClassVar[float] = 2.0
    rush_hours: ClassVar[float] = 6.0
    day_hours: ClassVar[float] = 12.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.integers(2, 9)), 0.0])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"busy_flow": float(rng.integers(0, 4)), "light_flow": float(rng.integers(0, 2))}

    def draw_outcomes(self) -> list[DrawOutcome]:
        return _uniform_outcomes(busy_flow=(0, 1, 2, 3), light_flow=(0, 1))

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        bikes, hour = state
        dropped = min(self.van_load, self.docks - bikes) if action == 0 else 0.0
        collected = min(self.van_load, bikes) if action == 2 else 0.0
        bikes = bikes + dropped - collected
        morning = hour < self.rush_hours
        wanted = draws["busy_flow"] if morning else draws["light_flow"]
        returning = draws["light_flow"] if morning else draws["busy_flow"]
        rented = min(wanted, bikes)
        bikes -= rented
        docked = min(returning, self.docks - bikes)
        bikes += docked
        hour += 1
        reward = (
            -self.van_cost * float(action != 1)
            - self.lost_rental_cost * (wanted - rented)
            - self.full_dock_cost * (returning - docked)
        )
        return np.array([bikes, hour]), reward, bool(hour >= self.day_hours)


class ParkingPricingEnv(ReferenceEnv):
    """A 12-space garage sets its entry fee every 15 minutes: a dearer fee earns more per car but brings fewer.

    Step: departures (0-2, never more than the parked cars) → arrivals for the chosen tier (economy fee 5:
    0-4 drivers; standard fee 6: 0-2; premium fee 10: 0-1) → those finding the garage full are turned away at a
    goodwill cost of 12 each. Reward: fees collected minus goodwill. Known policy: value iteration (gamma 0.99).
    """

    state_names: ClassVar[tuple[str, ...]] = ("parked_cars",)
    state_low: ClassVar[tuple[float, ...]] = (0.0,)
    state_high: ClassVar[tuple[float, ...]] = (12.0,)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("economy", "standard", "premium")

    spaces_total: ClassVar[float] = 12.0
    fees: ClassVar[tuple[float, ...]] = (5.0, 6.0, 10.0)
    turned_away_cost: ClassVar[float] = 12.0
    initial_parked: ClassVar[float] = 4.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.initial_parked])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {
            "leaving": float(rng.integers(0, 3)),
            "economy_drivers": float(rng.integers(0, 5)),
            "standard_drivers": float(rng.integers(0, 3)),
            "premium_drivers": float(rng.integers(0, 2)),
        }

    def draw_outcomes(self) -> list[DrawOutcome]:
        return _uniform_outcomes(
            leaving=(0, 1, 2), economy_drivers=(0, 1, 2, 3, 4), standard_drivers=(0, 1, 2), premium_drivers=(0, 1)
        )

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        parked = state[0]
        parked -= min(draws["leaving"], parked)
        drivers = (draws["economy_drivers"], draws["standard_drivers"], draws["premium_drivers"])[action]
        entered = min(drivers, self.spaces_total - parked)
        parked += entered
        reward = self.fees[action] * entered - self.turned_away_cost * (drivers - entered)
        return np.array([parked]), reward, False


class IrrigationEnv(ReferenceEnv):
    """A field's soil moisture (0-10) over a 30-day season, watered from an allocation of 10 units.

    Step: irrigation (none, 1 unit or 2 units of what is left; each unit adds 2 moisture levels) → rain (none on
    half the days, otherwise 2 or 4 levels, equally likely) → the crop and the sun take 2 levels (never below 0);
    moisture above 10 runs off → the day's growth: 3 when the moisture ends between 4 and 7, 1 at 2-3 or 8-9 (a
    little dry or wet), −2 at 0-1 (wilting), 0 at 10 (waterlogged) → the day advances; the season ends at day 30.
    Known policy: value iteration (gamma 1), optimal.
    """

    state_names: ClassVar[tuple[str, ...]] = ("moisture", "water_left", "day")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 10.0, 30.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("no_irrigation", "irrigate_one", "irrigate_two")

    max_moisture: ClassVar[float] = 10.0
    allocation: ClassVar[float] = 10.0
    levels_per_unit: ClassVar[float] = 2.0
    daily_uptake: ClassVar[float] = 2.0
    shower_rain: ClassVar[float] = 2.0
    storm_rain: ClassVar[float] = 4.0
    season_days: ClassVar[float] = 30.0
    initial_moisture: ClassVar[float] = 5.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.initial_moisture, self.allocation, 0.0])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"rain": float(rng.choice([0.0, 0.0, self.shower_rain, self.storm_rain]))}

    def draw_outcomes(self) -> list[DrawOutcome]:
        return _uniform_outcomes(rain=(0.0, 0.0, self.shower_rain, self.storm_rain))

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        moisture, water, day = state
        used = min(float(action), water)
        water -= used
        moisture = min(max(moisture + self.levels_per_unit * used + draws["rain"] - self.daily_uptake, 0.0),
                       self.max_moisture)
        if 4.0 <= moisture <= 7.0:
            growth = 3.0
        elif 2.0 <= moisture <= 9.0:
            growth = 1.0
        elif moisture < 2.0:
            growth = -2.0
        else:
            growth = 0.0
        day += 1
        return np.array([moisture, water, day]), growth, bool(day >= self.season_days)


class AdPacingEnv(ReferenceEnv):
    """Spend a daily ad budget of 10 units over 24 hourly auctions; each hour is busy with probability 0.3.

    Step: the bid (pause; standard: 1 unit for 1 conversion in a quiet hour, 3 in a busy one; aggressive: 2 units
    for 2 or 5; a bid the remaining budget cannot pay for does nothing) → whether the next hour is busy is drawn
    → the hour advances; the day ends at hour 24. Reward: conversions. Known policy: value iteration (gamma 1).
    """

    state_names: ClassVar[tuple[str, ...]] = ("budget_left", "hour", "busy")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 24.0, 1.0)
    integer_state: ClassVar[bool] = True
    action_names: ClassVar[tuple[str, ...]] = ("pause", "bid_standard", "bid_aggressive")

    daily_budget: ClassVar[float] = 10.0
    busy_prob: ClassVar[float] = 0.3
    quiet_standard: ClassVar[float] = 1.0
    busy_standard: ClassVar[float] = 3.0
    quiet_aggressive: ClassVar[float] = 2.0
    busy_aggressive: ClassVar[float] = 5.0
    day_hours: ClassVar[float] = 24.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([self.daily_budget, 0.0, float(rng.random() < self.busy_prob)])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"next_busy": float(rng.random() < self.busy_prob)}

    def draw_outcomes(self) -> list[DrawOutcome]:
        return [(1.0 - self.busy_prob, {"next_busy": 0.0}), (self.busy_prob, {"next_busy": 1.0})]

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        budget, hour, busy = state
        cost = float(action)
        spent = cost if budget >= cost else 0.0
        if spent == 1.0:
            conversions = self.busy_standard if busy > 0.5 else self.quiet_standard
        elif spent == 2.0:
            conversions = self.busy_aggressive if busy > 0.5 else self.quiet_aggressive
        else:
            conversions = 0.0
        budget -= spent
        hour += 1
        return np.array([budget, hour, draws["next_busy"]]), conversions, bool(hour >= self.day_hours)
