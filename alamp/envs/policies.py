"""The known policy of every reference environment: optimal (value iteration, shortest path) or a heuristic.

``known_policy(env_id)`` returns an object with ``act(obs) -> int`` that reads the observation exactly as the
reference environment emits it. Each entry says whether it is optimal or a heuristic (``KNOWN_POLICIES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import gymnasium as gym
import numpy as np

from alamp.envs.base import ReferenceEnv
from alamp.envs.planning import value_iteration

__all__ = ["Policy", "FunctionPolicy", "RandomPolicy", "KnownPolicyInfo", "KNOWN_POLICIES", "known_policy"]


class Policy(Protocol):
    """Anything that maps an observation to a discrete action index."""

    def act(self, obs: np.ndarray) -> int: ...


@dataclass
class FunctionPolicy:
    """A policy given by a plain function of the observation."""

    fn: Callable[[np.ndarray], int]

    def act(self, obs: np.ndarray) -> int:
        return int(self.fn(np.asarray(obs, dtype=np.float64)))


class RandomPolicy:
    """Uniformly random actions from a seeded generator."""

    def __init__(self, n_actions: int, *, seed: int = 0) -> None:
        self.n_actions = n_actions
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> int:
        return int(self.rng.integers(self.n_actions))


@dataclass(frozen=True)
class KnownPolicyInfo:
    """How the known policy of one reference environment is obtained."""

    name: str
    kind: Literal["optimal", "heuristic"]
    build: Callable[[ReferenceEnv | gym.Env], Policy]


def _vi(gamma: float) -> Callable[[ReferenceEnv | gym.Env], Policy]:
    return lambda env: value_iteration(env.unwrapped, gamma=gamma)  # type: ignore[arg-type]


def _fn(fn: Callable[[np.ndarray], int]) -> Callable[[ReferenceEnv | gym.Env], Policy]:
    return lambda env: FunctionPolicy(fn)


def _cartpole(obs: np.ndarray) -> int:
    x, x_dot, theta, theta_dot = obs
    # A hand-tuned linear state feedback: keep the pole up first, drift the cart back to the centre second.
    return int(theta + 0.5 * theta_dot + 0.05 * x + 0.1 * x_dot > 0)


def _mountain_car(obs: np.ndarray) -> int:
    position, velocity = obs
    # Pump energy: push with the velocity; from rest on the right of the valley's bottom, swing left first.
    if abs(velocity) < 1e-9:
        return 0 if position > -0.5 else 2
    return 2 if velocity > 0 else 0


def _max_weight(obs: np.ndarray) -> int:
    queues = obs[0:3]
    rates = np.where(obs[3:6] > 0.5, 2.0, 1.0)
    # Max-weight (queue x rate) with what can actually be sent this slot first: an empty queue is never served.
    weights = np.minimum(queues, rates) * 1000.0 + queues * rates
    return int(np.argmax(weights))


def _autoscaling(obs: np.ndarray) -> int:
    servers, load = obs
    target = min(max(math.ceil((0.8 * load + 0.2 * 50.0) / 10.0), 1), 10)
    return 2 if target > servers else (0 if target < servers else 1)


def _reservoir(obs: np.ndarray) -> int:
    # Meet the demand (release 8); release 12 to make room when the reservoir is nearly full.
    return 3 if obs[0] > 35.0 else 2


def _thermostat(obs: np.ndarray) -> int:
    indoor, outdoor = obs
    predicted = [indoor + 0.1 * (outdoor - indoor) + 1.5 * p for p in (0.0, 1.0, 2.0)]
    costs = [abs(t - 21.0) + 0.5 * p for t, p in zip(predicted, (0.0, 1.0, 2.0), strict=True)]
    return int(np.argmin(costs))


def _traffic(obs: np.ndarray) -> int:
    ns, ew, phase = obs
    green, red = (ns, ew) if phase < 0.5 else (ew, ns)
    return int(red >= green + 3 or (green == 0 and red > 0))


def _fishery(obs: np.ndarray) -> int:
    biomass = obs[0]
    quotas = (0.0, 0.15, 0.3, 0.45, 0.6)
    # Constant escapement: the largest quota that leaves at least half the carrying capacity in the water.
    allowed = [i for i, q in enumerate(quotas) if (1.0 - q) * biomass >= 50.0]
    return max(allowed) if allowed else 0


def _epidemic(obs: np.ndarray) -> int:
    susceptible, infected = obs
    # Thresholds found by a grid search on the reference; past herd immunity (S < 0.6) measures stop paying.
    if susceptible < 0.6:
        return 0
    if infected > 0.01:
        return 2
    return 1 if infected > 0.005 else 0


def _elevator(obs: np.ndarray) -> int:
    floor, onboard = int(round(obs[0])), obs[1]
    waiting = obs[2:5]
    if (floor == 0 and onboard > 0) or (floor >= 1 and waiting[floor - 1] > 0):
        return 2  # open: unload at the lobby or pick up here
    if any(waiting[f - 1] > 0 for f in range(floor + 1, 4)):
        return 0  # serve the highest call first, collecting on the way down
    if onboard > 0 or any(waiting[f - 1] > 0 for f in range(1, floor)):
        return 1
    return 1 if floor > 0 else 2  # idle at the lobby


def _positioning_stage(obs: np.ndarray) -> int:
    position, velocity = obs
    # PD law around the static holding force k*x_ref (gains by a grid search); push only when it asks for
    # more than half a push either way.
    force = 8.0 * 0.4 + 80.0 * (0.4 - position) - 16.0 * velocity
    return 2 if force > 2.5 else (0 if force < -2.5 else 1)


def _tank_level(obs: np.ndarray) -> int:
    level, valve = obs
    # The steady-state opening for 1.5 m (u* = C*sqrt(h_ref)/Q_max) plus a proportional correction; move the valve
    # a notch only when it is more than half a notch off that target.
    target = math.sqrt(1.5) * 0.03 / 0.06 + 2.0 * (1.5 - level)
    return 2 if target > valve + 0.05 else (0 if target < valve - 0.05 else 1)


def _lunar_descent(obs: np.ndarray) -> int:
    altitude, velocity, _fuel = obs
    # Follow the braking profile v_ref(h) = -max(1.5, sqrt(2 * 1.5 * h)) (parameters by a grid search).
    error = -max(1.5, math.sqrt(2.0 * 1.5 * max(altitude, 0.0))) - velocity
    return 2 if error > 0.5 else (1 if error > -0.5 else 0)


def _chemostat(obs: np.ndarray) -> int:
    biomass, _substrate = obs
    # Batch growth (no dilution) until 4 g/L, then the dilution rate of highest steady-state productivity.
    return 0 if biomass < 4.0 else 3


def _cruise_control(obs: np.ndarray) -> int:
    speed, grade = obs
    # One-step model-predictive control on the speed error (the fuel term did not pay on the reference).
    resistance = 0.42 * speed**2 + 0.01 * 1200.0 * 9.81 + 1200.0 * 9.81 * grade
    predicted = [min(max(speed + (f - resistance) / 1200.0, 0.0), 40.0) for f in (-2000.0, 0.0, 800.0, 2000.0)]
    return int(np.argmin([abs(v - 25.0) for v in predicted]))
def _pendulum(obs: np.ndarray) -> int:
    theta, theta_dot = obs  # theta = 0 upright; torques (-2, 0, +2)
    if abs(theta) < 0.5:
        # Near the top: a proportional-derivative hold, rounded to the available torques (gains by grid search).
        u = -(20.0 * theta + 4.0 * theta_dot)
        return 2 if u > 1.0 else (0 if u < -1.0 else 1)
    # Elsewhere: theta_ddot = 15 sin(theta) + 3 u conserves theta_dot^2 / 2 + 15 cos(theta) when u = 0, which is
    # 15 at rest on top: below that, push along the motion (pump); above it, push against it (brake).
    energy = theta_dot**2 / 2.0 + 15.0 * math.cos(theta)
    if energy < 15.0:
        return 2 if theta_dot >= 0 else 0
    return 0 if theta_dot >= 0 else 2


def _pendulum_balance(obs: np.ndarray) -> int:
    theta, theta_dot = obs  # torques (-2, -1, 0, +1, +2) by index
    # A proportional-derivative hold rounded to the nearest torque (gains by grid search on the reference).
    return int(np.clip(np.rint(-(20.0 * theta + 4.0 * theta_dot)), -2, 2)) + 2


KNOWN_POLICIES: dict[str, KnownPolicyInfo] = {
    "CartPole-v1": KnownPolicyInfo("linear state feedback", "heuristic", _fn(_cartpole)),
    "MountainCar-v0": KnownPolicyInfo("energy pumping (push with the velocity)", "heuristic", _fn(_mountain_car)),
    "alamp/WirelessScheduling-v0": KnownPolicyInfo("max-weight scheduling", "heuristic", _fn(_max_weight)),
    "alamp/DroneDelivery-v0": KnownPolicyInfo("shortest path (value iteration)", "optimal", _vi(1.0)),
    "alamp/InventoryManagement-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/MachineReplacement-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/QueueAdmission-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/BatteryArbitrage-v0": KnownPolicyInfo("backward induction (value iteration, gamma 1)", "optimal", _vi(1.0)),
    "alamp/ServerAutoscaling-v0": KnownPolicyInfo("track expected load", "heuristic", _fn(_autoscaling)),
    "alamp/Reservoir-v0": KnownPolicyInfo("meet demand, spill guard", "heuristic", _fn(_reservoir)),
    "alamp/Thermostat-v0": KnownPolicyInfo("one-step model-predictive control", "heuristic", _fn(_thermostat)),
    "alamp/TrafficLight-v0": KnownPolicyInfo("longest queue with hysteresis", "heuristic", _fn(_traffic)),
    "alamp/FisheryQuota-v0": KnownPolicyInfo("constant escapement at K/2", "heuristic", _fn(_fishery)),
    "alamp/EpidemicControl-v0": KnownPolicyInfo("infected-share thresholds", "heuristic", _fn(_epidemic)),
    "alamp/Elevator-v0": KnownPolicyInfo("collective down-peak", "heuristic", _fn(_elevator)),
    "alamp/CliffWalkingRowCol-v0": KnownPolicyInfo("shortest safe path (value iteration)", "optimal", _vi(1.0)),
    "alamp/FrozenLakeRowCol-v0": KnownPolicyInfo("shortest path (value iteration)", "optimal", _vi(0.99)),
    "alamp/PositioningStage-v0": KnownPolicyInfo("discrete PD around the holding force", "heuristic",
                                                 _fn(_positioning_stage)),
    "alamp/TankLevel-v0": KnownPolicyInfo("steady-state valve plus proportional", "heuristic", _fn(_tank_level)),
    "alamp/LunarDescent-v0": KnownPolicyInfo("braking velocity profile", "heuristic", _fn(_lunar_descent)),
    "alamp/Chemostat-v0": KnownPolicyInfo("batch start then peak productivity", "heuristic", _fn(_chemostat)),
    "alamp/CruiseControl-v0": KnownPolicyInfo("one-step model-predictive control", "heuristic",
                                              _fn(_cruise_control)),
    "alamp/DiscretePendulum-v0": KnownPolicyInfo("energy pumping, then a PD hold", "heuristic", _fn(_pendulum)),
    "alamp/PendulumBalance-v0": KnownPolicyInfo("PD hold (nearest torque)", "heuristic", _fn(_pendulum_balance)),
    "alamp/TaxiRowCol-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/SlipperyFrozenLakeRowCol-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/SlipperyCliffWalkingRowCol-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/FrozenLake8x8RowCol-v0": KnownPolicyInfo("shortest path (value iteration)", "optimal", _vi(0.99)),
    "alamp/HospitalBeds-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/BikeRebalancing-v0": KnownPolicyInfo("backward induction (value iteration, gamma 1)", "optimal", _vi(1.0)),
    "alamp/ParkingPricing-v0": KnownPolicyInfo("value iteration (gamma 0.99)", "optimal", _vi(0.99)),
    "alamp/Irrigation-v0": KnownPolicyInfo("backward induction (value iteration, gamma 1)", "optimal", _vi(1.0)),
    "alamp/AdPacing-v0": KnownPolicyInfo("backward induction (value iteration, gamma 1)", "optimal", _vi(1.0)),
}


def known_policy(env_id: str, **kwargs: object) -> Policy:
    """The known policy of the reference environment ``env_id`` (see ``KNOWN_POLICIES`` for its kind).

    Args:
        env_id: A gymnasium id listed in ``KNOWN_POLICIES``.
        **kwargs: Keyword arguments of the environment, as in the task's reference.

    Raises:
        KeyError: If no known policy is recorded for ``env_id``.
    """
    if env_id not in KNOWN_POLICIES:
        raise KeyError(f"no known policy for {env_id!r}; known: {sorted(KNOWN_POLICIES)}")
    import alamp.envs  # noqa: F401  (registers the alamp ids)

    env = gym.make(env_id, **kwargs)
    try:
        return KNOWN_POLICIES[env_id].build(env)
    finally:
        env.close()
