"""Hand-written specs of gymnasium's CartPole-v1 and MountainCar-v0 (they reproduce gymnasium exactly)."""

from __future__ import annotations

import math

from alamp.schema.env_spec import EnvSpec

__all__ = ["cartpole_spec", "mountain_car_spec"]


def cartpole_spec() -> EnvSpec:
    """CartPole-v1 (gymnasium's ``CartPoleEnv``, Euler integrator, reward 1 per step, 500 steps)."""
    theta_threshold = 12 * 2 * math.pi / 360
    return EnvSpec.model_validate(
        {
            "id": "alamp/CartPole-v1",
            "constants": {
                "gravity": 9.8,
                "masscart": 1.0,
                "masspole": 0.1,
                "total_mass": 1.1,
                "length": 0.5,
                "polemass_length": 0.05,
                "force_mag": 10.0,
                "tau": 0.02,
                "theta_threshold_radians": theta_threshold,
                "x_threshold": 2.4,
            },
            "state": [
                {"name": "x", "low": -4.8, "high": 4.8, "init": "uniform(-0.05, 0.05)", "description": "cart position"},
                {"name": "x_dot", "low": -math.inf, "high": math.inf, "init": "uniform(-0.05, 0.05)"},
                {"name": "theta", "low": -2 * theta_threshold, "high": 2 * theta_threshold,
                 "init": "uniform(-0.05, 0.05)", "description": "pole angle (rad)"},
                {"name": "theta_dot", "low": -math.inf, "high": math.inf, "init": "uniform(-0.05, 0.05)"},
            ],
            "actions": [
                {"name": "push_left", "updates": [{"target": "force", "expr": "-force_mag"}]},
                {"name": "push_right", "updates": [{"target": "force", "expr": "force_mag"}]},
            ],
            "updates": [
                {"target": "costheta", "expr": "cos(theta)"},
                {"target": "sintheta", "expr": "sin(theta)"},
                {"target": "temp", "expr": "(force + polemass_length * theta_dot ** 2 * sintheta) / total_mass"},
                {
                    "target": "thetaacc",
                    "expr": "(gravity * sintheta - costheta * temp)"
                    " / (length * (4.0 / 3.0 - masspole * costheta ** 2 / total_mass))",
                },
                {"target": "xacc", "expr": "temp - polemass_length * thetaacc * costheta / total_mass"},
                {"target": "x", "expr": "x + tau * x_dot"},
                {"target": "x_dot", "expr": "x_dot + tau * xacc"},
                {"target": "theta", "expr": "theta + tau * theta_dot"},
                {"target": "theta_dot", "expr": "theta_dot + tau * thetaacc"},
            ],
            "reward": "1",
            "terminated": [
                "x < -x_threshold or x > x_threshold",
                "theta < -theta_threshold_radians or theta > theta_threshold_radians",
            ],
            "max_steps": 500,
        }
    )


def mountain_car_spec() -> EnvSpec:
    """MountainCar-v0 (gymnasium's ``MountainCarEnv``, goal_velocity 0, reward -1 per step, 200 steps)."""
    return EnvSpec.model_validate(
        {
            "id": "alamp/MountainCar-v0",
            "constants": {
                "min_position": -1.2,
                "max_position": 0.6,
                "max_speed": 0.07,
                "goal_position": 0.5,
                "goal_velocity": 0.0,
                "force": 0.001,
                "gravity": 0.0025,
            },
            "state": [
                {"name": "position", "low": -1.2, "high": 0.6, "init": "uniform(-0.6, -0.4)"},
                {"name": "velocity", "low": -0.07, "high": 0.07, "init": "0"},
            ],
            "actions": [
                {"name": "accelerate_left", "updates": [{"target": "push", "expr": "-1"}]},
                {"name": "no_acceleration", "updates": [{"target": "push", "expr": "0"}]},
                {"name": "accelerate_right", "updates": [{"target": "push", "expr": "1"}]},
            ],
            "updates": [
                {
                    "target": "velocity",
                    "expr": "clip(velocity + (push * force + cos(3 * position) * (-gravity)), -max_speed, max_speed)",
                },
                {"target": "position", "expr": "clip(position + velocity, min_position, max_position)"},
                {"target": "velocity", "expr": "0 if position == min_position and velocity < 0 else velocity"},
            ],
            "reward": "-1",
            "terminated": ["position >= goal_position and velocity >= goal_velocity"],
            "max_steps": 200,
        }
    )
