"""Physical and engineering control references: positioning stage, tank, lunar descent, chemostat, cruise control.

Each integrates a textbook ordinary differential equation with one explicit Euler step per environment step, in
the EnvSpec step shape (draws, then deterministic updates in the order written; see :mod:`alamp.envs.base`), so a
task's gold spec restates it line by line. Every state variable is clipped to its bounds after the updates, as a
spec with ``clip: true`` does. None has a tractable exact solution here; each docstring names its heuristic.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from alamp.envs.base import ReferenceEnv

__all__ = ["PositioningStageEnv", "TankLevelEnv", "LunarDescentEnv", "ChemostatEnv", "CruiseControlEnv"]


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


class PositioningStageEnv(ReferenceEnv):
    """A linear stage on a spring and a damper, m·ẍ = u − k·x − c·ẋ, to be held at 0.4 m with pushes of ±5 N.

    Hitting an end stop (|x| >= 1 m) ends the episode with a penalty. Known policy: a discrete PD law around
    the static holding force (push when the predicted position error is large, rest otherwise).
    """

    state_names: ClassVar[tuple[str, ...]] = ("position", "velocity")
    state_low: ClassVar[tuple[float, ...]] = (-1.0, -5.0)
    state_high: ClassVar[tuple[float, ...]] = (1.0, 5.0)
    action_names: ClassVar[tuple[str, ...]] = ("push_left", "no_push", "push_right")

    mass: ClassVar[float] = 2.0
    stiffness: ClassVar[float] = 8.0
    damping: ClassVar[float] = 1.5
    push_force: ClassVar[float] = 5.0
    dt: ClassVar[float] = 0.05
    target: ClassVar[float] = 0.4
    travel: ClassVar[float] = 1.0
    stop_penalty: ClassVar[float] = 50.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(-0.1, 0.1)), 0.0])

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        x, v = state
        force = (-self.push_force, 0.0, self.push_force)[action]
        accel = (force - self.stiffness * x - self.damping * v) / self.mass
        x = _clip(x + self.dt * v, -self.travel, self.travel)
        v = _clip(v + self.dt * accel, -5.0, 5.0)
        hit = abs(x) >= self.travel
        reward = -abs(x - self.target) - self.stop_penalty * float(hit)
        return np.array([x, v]), reward, hit


class TankLevelEnv(ReferenceEnv):
    """A tank filled through a slow inflow valve, drained by gravity (Torricelli: q_out = C·√h); hold h at 1.5 m.

    The valve opening moves by 0.1 per step (close a notch, hold, open a notch); each move costs a little wear.
    Known policy: one-step model-predictive control with a steady-state valve target.
    """

    state_names: ClassVar[tuple[str, ...]] = ("level", "valve")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (2.5, 1.0)
    action_names: ClassVar[tuple[str, ...]] = ("close_notch", "hold", "open_notch")

    area: ClassVar[float] = 2.0
    max_inflow: ClassVar[float] = 0.06
    outflow_coeff: ClassVar[float] = 0.03
    notch: ClassVar[float] = 0.1
    dt: ClassVar[float] = 10.0
    target_level: ClassVar[float] = 1.5
    tank_height: ClassVar[float] = 2.5
    wear_cost: ClassVar[float] = 0.05

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(0.2, 0.8)), 0.0])

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        h, u = state
        move = (-1.0, 0.0, 1.0)[action]
        u = _clip(u + self.notch * move, 0.0, 1.0)
        h = _clip(h + self.dt / self.area * (u * self.max_inflow - self.outflow_coeff * math.sqrt(h)),
                  0.0, self.tank_height)
        reward = -abs(h - self.target_level) - self.wear_cost * abs(move)
        return np.array([h, u]), reward, False


class LunarDescentEnv(ReferenceEnv):
    """A lander falling straight down in lunar gravity with three throttle settings and a finite fuel tank.

    ḣ = v, v̇ = T/(m_dry + m_fuel) − g, ṁ_fuel = −T/v_e; touching down (h <= 0) ends the episode with a bonus if
    the sink rate is at most 2 m/s, a penalty otherwise; burnt fuel costs a little. Known policy: track a
    braking velocity profile v_ref(h) with the throttle.
    """

    state_names: ClassVar[tuple[str, ...]] = ("altitude", "velocity", "fuel")
    state_low: ClassVar[tuple[float, ...]] = (0.0, -60.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (400.0, 60.0, 60.0)
    action_names: ClassVar[tuple[str, ...]] = ("engine_off", "half_throttle", "full_throttle")

    gravity: ClassVar[float] = 1.62
    dry_mass: ClassVar[float] = 600.0
    max_thrust: ClassVar[float] = 3000.0
    exhaust_velocity: ClassVar[float] = 2500.0
    dt: ClassVar[float] = 0.5
    safe_speed: ClassVar[float] = 2.0
    landing_bonus: ClassVar[float] = 100.0
    crash_penalty: ClassVar[float] = 100.0
    fuel_cost: ClassVar[float] = 1.0
    initial_fuel: ClassVar[float] = 60.0

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(150.0, 250.0)), float(rng.uniform(-10.0, -5.0)), self.initial_fuel])

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        h, v, fuel = state
        throttle = (0.0, 0.5, 1.0)[action]
        thrust = throttle * self.max_thrust if fuel > 0 else 0.0
        accel = thrust / (self.dry_mass + fuel) - self.gravity
        h = h + self.dt * v
        v = v + self.dt * accel
        burn = min(self.dt * thrust / self.exhaust_velocity, fuel)
        fuel = fuel - burn
        h = _clip(h, 0.0, 400.0)
        v = _clip(v, -60.0, 60.0)
        fuel = _clip(fuel, 0.0, 60.0)
        landed = h <= 0
        touchdown = (self.landing_bonus if v >= -self.safe_speed else -self.crash_penalty) if landed else 0.0
        reward = -self.fuel_cost * burn + touchdown
        return np.array([h, v, fuel]), reward, landed


class ChemostatEnv(ReferenceEnv):
    """A continuous bioreactor: Monod growth of biomass X on substrate S, dilution rate D chosen from four levels.

    Ẋ = (μ − D)·X, Ṡ = D·(S_in − S) − μ·X/Y, μ = μ_max·S/(K_s + S); the reward is the biomass harvested with the
    outflow, D·X·V·Δt. Known policy: grow the culture in batch first, then run at the dilution rate of highest
    steady-state productivity.
    """

    state_names: ClassVar[tuple[str, ...]] = ("biomass", "substrate")
    state_low: ClassVar[tuple[float, ...]] = (0.0, 0.0)
    state_high: ClassVar[tuple[float, ...]] = (10.0, 10.0)
    action_names: ClassVar[tuple[str, ...]] = ("dilution_0", "dilution_015", "dilution_030", "dilution_045")

    dilution_rates: ClassVar[tuple[float, ...]] = (0.0, 0.15, 0.3, 0.45)
    mu_max: ClassVar[float] = 0.5
    half_saturation: ClassVar[float] = 0.2
    yield_coeff: ClassVar[float] = 0.5
    feed_substrate: ClassVar[float] = 10.0
    volume: ClassVar[float] = 2.0
    dt: ClassVar[float] = 0.5

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(0.05, 0.2)), self.feed_substrate])

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        x, s = state
        dilution = self.dilution_rates[action]
        growth = self.mu_max * s / (self.half_saturation + s)
        harvest = dilution * x * self.volume * self.dt
        x_next = x + self.dt * (growth - dilution) * x
        s_next = s + self.dt * (dilution * (self.feed_substrate - s) - growth * x / self.yield_coeff)
        x_next = _clip(x_next, 0.0, 10.0)
        s_next = _clip(s_next, 0.0, 10.0)
        return np.array([x_next, s_next]), harvest, False


class CruiseControlEnv(ReferenceEnv):
    """Hold a car at 25 m/s on a road whose grade wanders randomly; brake, coast, part or full throttle.

    m·v̇ = F − k_air·v² − C_rr·m·g − m·g·grade; the grade is a clipped random walk. The reward is minus the speed
    error minus a fuel price on the traction force. Known policy: one-step model-predictive control.
    """

    state_names: ClassVar[tuple[str, ...]] = ("speed", "grade")
    state_low: ClassVar[tuple[float, ...]] = (0.0, -0.06)
    state_high: ClassVar[tuple[float, ...]] = (40.0, 0.06)
    action_names: ClassVar[tuple[str, ...]] = ("brake", "coast", "part_throttle", "full_throttle")

    forces: ClassVar[tuple[float, ...]] = (-2000.0, 0.0, 800.0, 2000.0)
    mass: ClassVar[float] = 1200.0
    air_drag: ClassVar[float] = 0.42
    rolling_coeff: ClassVar[float] = 0.01
    gravity: ClassVar[float] = 9.81
    dt: ClassVar[float] = 1.0
    set_speed: ClassVar[float] = 25.0
    fuel_price: ClassVar[float] = 0.0002
    grade_sd: ClassVar[float] = 0.004

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.uniform(18.0, 32.0)), float(rng.uniform(-0.03, 0.03))])

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {"grade_change": float(rng.normal(0.0, self.grade_sd))}

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        v, grade = state
        force = self.forces[action]
        resistance = self.air_drag * v**2 + self.rolling_coeff * self.mass * self.gravity
        accel = (force - resistance - self.mass * self.gravity * grade) / self.mass
        v = _clip(v + self.dt * accel, 0.0, 40.0)
        grade = _clip(grade + draws["grade_change"], -0.06, 0.06)
        reward = -abs(v - self.set_speed) - self.fuel_price * max(force, 0.0)
        return np.array([v, grade]), reward, False
