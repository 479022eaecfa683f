"""Parameter agent: the numeric constants stated in the description."""

from __future__ import annotations

import dspy

from alamp.schema import Parameter

__all__ = ["ParameterSignature"]


class ParameterSignature(dspy.Signature):
    """List every fixed numeric constant stated in the problem description (physical constants, limits,
    thresholds, costs, time step). Use short snake_case names. Do not list quantities that change over time.
    When the text's formulas write a constant as a symbol from symbols (e.g. g, M, tau), set its symbol to it;
    every such symbol that stands for a fixed number must be listed."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    symbols: list[str] = dspy.InputField(desc="the symbols the text's formulas use")
    parameters: list[Parameter] = dspy.OutputField()
