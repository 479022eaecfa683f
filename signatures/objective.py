"""Objective agent: what the controller maximises or minimises."""

from __future__ import annotations

import dspy

from alamp.schema import Objective, Parameter

__all__ = ["ObjectiveSignature"]


class ObjectiveSignature(dspy.Signature):
    """State the control objectives of the problem: what to maximise or minimise, with a formula over the
    parameters when the description gives one. Usually one objective."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.InputField(desc="constants already extracted")
    objectives: list[Objective] = dspy.OutputField()
