"""Parameter agent: the numeric constants stated in the description."""

from __future__ import annotations

import dspy

from alamp.schema import Parameter

__all__ = ["ParameterSignature"]


class ParameterSignature(dspy.Signature):
    """List every fixed numeric constant stated in the problem description (physical constants, limits,
    thresholds, costs, time step). Use short snake_case names. Do not list quantities that change over time."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.OutputField()
