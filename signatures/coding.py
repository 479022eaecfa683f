"""Coding agent: a gymnasium environment class written as Python (the paper's path; alamp's fallback)."""

from __future__ import annotations

import dspy

from alamp.schema import MDPModel, Parameter, SARSpec

__all__ = ["CodingSignature"]


class CodingSignature(dspy.Signature):
    """Write one Python module defining a gymnasium.Env subclass for this MDP. Start with
    import numpy as np, import gymnasium as gym, from gymnasium import spaces. observation_space is a float32 Box
    with one entry per observation, in order; action_space is spaces.Discrete(number of actions), in order.
    reset(self, seed=None, options=None) calls super().reset(seed=seed), samples with self.np_random and returns
    (obs, {}); step returns (obs, reward, terminated, truncated, {}). Return only the code."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.InputField()
    mdp: MDPModel = dspy.InputField()
    sar: SARSpec = dspy.InputField()
    code: str = dspy.OutputField(desc="a complete Python module")
