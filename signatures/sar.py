"""SAR agent: the observation, the discrete actions with their effects, and the reward, as the controller sees them."""

from __future__ import annotations

import dspy

from alamp.schema import MDPModel, Parameter, SARSpec, Variable

__all__ = ["SARSignature"]


class SARSignature(dspy.Signature):
    """Define the controller's interface. observations: the state variable names it observes, in order.
    actions: the discrete actions, in order; each effect is an assignment such as force = -force_mag or
    y = y + 1. reward: a Python expression over parameter and variable names."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.InputField()
    variables: list[Variable] = dspy.InputField()
    mdp: MDPModel = dspy.InputField()
    sar: SARSpec = dspy.OutputField()
