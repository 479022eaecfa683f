"""Scripted agent answers for two descriptions (CartPole and a corridor walk), as a correct model would write them."""

from __future__ import annotations

from typing import Any

CARTPOLE_DESCRIPTION = (
    "A pole is attached by an un-actuated joint to a cart moving along a frictionless track. The controller pushes "
    "the cart left or right with a force of 10 N. Gravity is 9.8, the cart weighs 1.0 kg, the pole 0.1 kg, its "
    "half-length is 0.5 m, the time step is 0.02 s. The episode ends when the pole leans more than 12 degrees "
    "(0.2095 rad) or the cart leaves [-2.4, 2.4]; at most 500 steps. Reward +1 per step."
)

CORRIDOR_DESCRIPTION = (
    "A robot stands at cell 0 of a corridor of cells 0..10. Each step it moves one cell left or right; it cannot "
    "leave the corridor. Every step costs 1. The episode ends when it reaches cell 10, or after 50 steps."
)

CARTPOLE: dict[str, list[dict[str, Any]]] = {
    "ParameterSignature": [{"parameters": [
        {"name": "gravity", "value": 9.8, "unit": "m/s^2"},
        {"name": "masscart", "value": 1.0, "unit": "kg"},
        {"name": "masspole", "value": 0.1, "unit": "kg"},
        {"name": "length", "value": 0.5, "unit": "m"},
        {"name": "force_mag", "value": 10.0, "unit": "N"},
        {"name": "tau", "value": 0.02, "unit": "s"},
        {"name": "theta_threshold", "value": 0.2095, "unit": "rad"},
        {"name": "x_threshold", "value": 2.4, "unit": "m"},
    ]}],
    "ObjectiveSignature": [{"objectives": [{"name": "balance", "sense": "maximize", "expression": "steps"}]}],
    "VariableSignature": [{"variables": [
        {"name": "x", "role": "state", "low": -4.8, "high": 4.8, "initial": "uniform(-0.05, 0.05)"},
        {"name": "x_dot", "role": "state", "initial": "uniform(-0.05, 0.05)"},
        {"name": "theta", "role": "state", "low": -0.419, "high": 0.419, "initial": "uniform(-0.05, 0.05)"},
        {"name": "theta_dot", "role": "state", "initial": "uniform(-0.05, 0.05)"},
        {"name": "force", "role": "action", "low": -10, "high": 10},
    ]}],
    "ConstraintSignature": [{"constraints": [
        {"expression": "abs(x) > x_threshold or abs(theta) > theta_threshold", "kind": "termination"},
    ]}],
    "ModelingSignature": [{"mdp": {
        "states": ["x", "x_dot", "theta", "theta_dot"],
        "actions": ["push_left", "push_right"],
        "transitions": ["x_next = x + tau * x_dot", "theta_next = theta + tau * theta_dot"],
        "reward": "1",
        "discount": 0.99,
        "horizon": 500,
        "termination": ["abs(x) > x_threshold", "abs(theta) > theta_threshold"],
    }}],
    "SARSignature": [{"sar": {
        "observations": ["x", "x_dot", "theta", "theta_dot"],
        "actions": [{"name": "push_left", "effect": "force = -force_mag"},
                    {"name": "push_right", "effect": "force = force_mag"}],
        "reward": "1",
    }}],
    "EnvSignature": [{"updates": [
        {"target": "total_mass", "expr": "masscart + masspole"},
        {"target": "polemass_length", "expr": "masspole * length"},
        {"target": "temp", "expr": "(force + polemass_length * theta_dot ** 2 * sin(theta)) / total_mass"},
        {"target": "thetaacc", "expr": "(gravity * sin(theta) - cos(theta) * temp) / "
                                       "(length * (4.0 / 3.0 - masspole * cos(theta) ** 2 / total_mass))"},
        {"target": "xacc", "expr": "temp - polemass_length * thetaacc * cos(theta) / total_mass"},
        {"target": "x", "expr": "x + tau * x_dot"},
        {"target": "x_dot", "expr": "x_dot + tau * xacc"},
        {"target": "theta", "expr": "theta + tau * theta_dot"},
        {"target": "theta_dot", "expr": "theta_dot + tau * thetaacc"},
    ]}],
}

CORRIDOR: dict[str, list[dict[str, Any]]] = {
    "ParameterSignature": [{"parameters": [
        {"name": "goal", "value": 10, "unit": "cell"}, {"name": "step_cost", "value": 1},
    ]}],
    "ObjectiveSignature": [{"objectives": [{"name": "reach_goal_fast", "sense": "min", "expression": "steps"}]}],
    "VariableSignature": [{"variables": [
        {"name": "position", "role": "state", "domain": "integer", "low": 0, "high": 10, "initial": "0"},
    ]}],
    "ConstraintSignature": [{"constraints": [
        {"expression": "position >= goal", "kind": "termination"},
        {"expression": "0 <= position <= 10", "kind": "hard"},
    ]}],
    "ModelingSignature": [{"mdp": {
        "states": ["position"], "actions": ["left", "right"],
        "transitions": ["position_next = clip(position + move, 0, 10)"],
        "reward": "-step_cost", "horizon": 50, "termination": ["position >= goal"],
    }}],
    "SARSignature": [{"sar": {
        "observations": ["position"],
        "actions": [{"name": "left", "effect": "position -= 1"}, {"name": "right", "effect": "position += 1"}],
        "reward": "-step_cost",
    }}],
    # The chosen action already moved the robot; the update keeps it in the corridor.
    "EnvSignature": [{"updates": [{"target": "position", "expr": "clip(position, 0, 10)"}]}],
}

GOOD_CORRIDOR_CODE = '''
import numpy as np
import gymnasium as gym
from gymnasium import spaces


class CorridorEnv(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Box(0, 10, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.t = 0, 0
        return np.array([self.position], dtype=np.float32), {}

    def step(self, action):
        self.position = int(np.clip(self.position + (1 if action == 1 else -1), 0, 10))
        self.t += 1
        obs = np.array([self.position], dtype=np.float32)
        return obs, -1.0, self.position >= 10, self.t >= 50, {}
'''

# The boilerplate mistake the small model makes most: `spaces` is used but never imported.
BROKEN_CORRIDOR_CODE = "```python\n" + GOOD_CORRIDOR_CODE.replace("from gymnasium import spaces\n", "") + "```"


def with_code(script: dict[str, list[dict[str, Any]]], *, code: list[str], fixes: list[str]) -> dict[str, list]:
    """A script whose Coding agent writes ``code`` (one per candidate) and whose Repair agent writes ``fixes``."""
    out = dict(script)
    out["CodingSignature"] = [{"code": c} for c in code]
    out["RepairSignature"] = [{"fixed_code": f} for f in fixes] or [{"fixed_code": code[-1]}]
    return out
