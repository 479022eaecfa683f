"""Parameter agent: the numeric constants stated in the description."""

from __future__ import annotations

import dspy

from alamp.schema import Parameter

__all__ = ["ParameterSignature"]


class ParameterSignature(dspy.Signature):
    """List every fixed numeric constant stated in the problem description (physical constants, limits,
    thresholds, costs, time step). Use short snake_case names. Do not list quantities that change over time.
    If the text's formulas write a constant as one of the symbols (e.g. g, M, tau), put that symbol in symbol."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    symbols: list[str] = dspy.InputField(desc="the symbols the text's formulas use")
    parameters: list[Parameter] = dspy.OutputField()
