"""alamp's reference environments, registered with gymnasium on import (idempotent).

The three custom environments of the paper's test tasks, the train/dev ones, and (row, col) views of gymnasium's
toy-text grids. Each has ``set_state``/``get_state`` and a known policy (:mod:`alamp.envs.policies`).
"""

from __future__ import annotations

import gymnasium as gym

from alamp.envs.base import ReferenceEnv
from alamp.envs.control import ElevatorEnv, EpidemicControlEnv, FisheryQuotaEnv, ThermostatEnv, TrafficLightEnv
from alamp.envs.drone import DroneDeliveryEnv
from alamp.envs.gym_wrappers import (
    DiscretePendulumEnv,
    FrozenLake8x8RowColEnv,
    PendulumBalanceEnv,
    SlipperyCliffWalkingRowColEnv,
    SlipperyFrozenLakeRowColEnv,
    TaxiRowColEnv,
)
from alamp.envs.inventory import InventoryManagementEnv
from alamp.envs.operations import (
    BatteryArbitrageEnv,
    MachineReplacementEnv,
    QueueAdmissionEnv,
    ReservoirEnv,
    ServerAutoscalingEnv,
)
from alamp.envs.physics import ChemostatEnv, CruiseControlEnv, LunarDescentEnv, PositioningStageEnv, TankLevelEnv
from alamp.envs.planning import TabularPolicy, value_iteration
from alamp.envs.policies import KNOWN_POLICIES, FunctionPolicy, Policy, RandomPolicy, known_policy
from alamp.envs.services import (
    AdPacingEnv,
    BikeRebalancingEnv,
    HospitalBedsEnv,
    IrrigationEnv,
    ParkingPricingEnv,
)
from alamp.envs.state import get_state, set_state, supports_state
from alamp.envs.toytext import CliffWalkingRowColEnv, FrozenLakeRowColEnv
from alamp.envs.wireless import WirelessSchedulingEnv

__all__ = [
    "REFERENCE_ENVS",
    "register_envs",
    "ReferenceEnv",
    "WirelessSchedulingEnv",
    "DroneDeliveryEnv",
    "InventoryManagementEnv",
    "MachineReplacementEnv",
    "QueueAdmissionEnv",
    "BatteryArbitrageEnv",
    "ServerAutoscalingEnv",
    "ReservoirEnv",
    "ThermostatEnv",
    "TrafficLightEnv",
    "FisheryQuotaEnv",
    "EpidemicControlEnv",
    "ElevatorEnv",
    "PositioningStageEnv",
    "TankLevelEnv",
    "LunarDescentEnv",
    "ChemostatEnv",
    "CruiseControlEnv",
    "HospitalBedsEnv",
    "BikeRebalancingEnv",
    "ParkingPricingEnv",
    "IrrigationEnv",
    "AdPacingEnv",
    "CliffWalkingRowColEnv",
    "FrozenLakeRowColEnv",
    "DiscretePendulumEnv",
    "PendulumBalanceEnv",
    "TaxiRowColEnv",
    "SlipperyFrozenLakeRowColEnv",
    "SlipperyCliffWalkingRowColEnv",
    "FrozenLake8x8RowColEnv",
    "Policy",
    "FunctionPolicy",
    "RandomPolicy",
    "KNOWN_POLICIES",
    "known_policy",
    "TabularPolicy",
    "value_iteration",
    "set_state",
    "get_state",
    "supports_state",
]

#: gymnasium id -> (environment class, max_episode_steps).
REFERENCE_ENVS: dict[str, tuple[type[ReferenceEnv], int]] = {
    "alamp/WirelessScheduling-v0": (WirelessSchedulingEnv, 200),
    "alamp/DroneDelivery-v0": (DroneDeliveryEnv, 50),
    "alamp/InventoryManagement-v0": (InventoryManagementEnv, 60),
    "alamp/MachineReplacement-v0": (MachineReplacementEnv, 100),
    "alamp/QueueAdmission-v0": (QueueAdmissionEnv, 100),
    "alamp/BatteryArbitrage-v0": (BatteryArbitrageEnv, 24),
    "alamp/ServerAutoscaling-v0": (ServerAutoscalingEnv, 100),
    "alamp/Reservoir-v0": (ReservoirEnv, 100),
    "alamp/Thermostat-v0": (ThermostatEnv, 100),
    "alamp/TrafficLight-v0": (TrafficLightEnv, 200),
    "alamp/FisheryQuota-v0": (FisheryQuotaEnv, 50),
    "alamp/EpidemicControl-v0": (EpidemicControlEnv, 100),
    "alamp/Elevator-v0": (ElevatorEnv, 200),
    "alamp/CliffWalkingRowCol-v0": (CliffWalkingRowColEnv, 100),
    "alamp/FrozenLakeRowCol-v0": (FrozenLakeRowColEnv, 100),
    "alamp/PositioningStage-v0": (PositioningStageEnv, 200),
    "alamp/TankLevel-v0": (TankLevelEnv, 150),
    "alamp/LunarDescent-v0": (LunarDescentEnv, 200),
    "alamp/Chemostat-v0": (ChemostatEnv, 96),
    "alamp/CruiseControl-v0": (CruiseControlEnv, 150),
    "alamp/DiscretePendulum-v0": (DiscretePendulumEnv, 200),
    "alamp/PendulumBalance-v0": (PendulumBalanceEnv, 100),
    "alamp/TaxiRowCol-v0": (TaxiRowColEnv, 200),
    "alamp/SlipperyFrozenLakeRowCol-v0": (SlipperyFrozenLakeRowColEnv, 100),
    "alamp/SlipperyCliffWalkingRowCol-v0": (SlipperyCliffWalkingRowColEnv, 100),
    "alamp/FrozenLake8x8RowCol-v0": (FrozenLake8x8RowColEnv, 200),
    "alamp/HospitalBeds-v0": (HospitalBedsEnv, 120),
    "alamp/BikeRebalancing-v0": (BikeRebalancingEnv, 12),
    "alamp/ParkingPricing-v0": (ParkingPricingEnv, 96),
    "alamp/Irrigation-v0": (IrrigationEnv, 30),
    "alamp/AdPacing-v0": (AdPacingEnv, 24),
}


def register_envs() -> None:
    """Register every id in ``REFERENCE_ENVS`` with gymnasium; ids already registered are left alone."""
    for env_id, (cls, max_steps) in REFERENCE_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=cls, max_episode_steps=max_steps)


register_envs()
