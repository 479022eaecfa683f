"""Modeling agent: the formal MDP."""

from __future__ import annotations

import dspy

from alamp.schema import Constraint, MDPModel, Objective, Parameter, Variable

__all__ = ["ModelingSignature"]


class ModelingSignature(dspy.Signature):
    """Write the formal MDP. states: the state variable names; actions: short names of the discrete actions;
    transitions: one equation per state variable giving its next value, e.g. x_next = x + tau * x_dot;
    reward: a formula; termination: conditions that end an episode; horizon: maximum steps per episode."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.InputField()
    objectives: list[Objective] = dspy.InputField()
    variables: list[Variable] = dspy.InputField()
    constraints: list[Constraint] = dspy.InputField()
    mdp: MDPModel = dspy.OutputField()
