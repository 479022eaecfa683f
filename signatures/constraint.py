"""Constraint agent: limits, penalties, and the conditions that end an episode."""

from __future__ import annotations

import dspy

from alamp.schema import Constraint, Parameter, Variable

__all__ = ["ConstraintSignature"]


class ConstraintSignature(dspy.Signature):
    """List the constraints as Python boolean expressions over the parameter and variable names.
    kind=termination: the expression is the condition that ENDS the episode, e.g. abs(pole_angle) > angle_limit.
    kind=hard: a limit that must always hold; kind=soft: a limit whose violation is penalised."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.InputField()
    variables: list[Variable] = dspy.InputField()
    constraints: list[Constraint] = dspy.OutputField()
