"""Variable agent: the quantities that change (state, action, exogenous)."""

from __future__ import annotations

import dspy

from alamp.schema import Objective, Parameter, Variable

__all__ = ["VariableSignature"]


class VariableSignature(dspy.Signature):
    """List the variables that change during an episode. role: state (part of the system state), action (what the
    controller sets) or exogenous (random input; put its distribution in initial, e.g. poisson(lam)).
    low/high are the limits the variable can reach, not its start range; initial is its start value or
    distribution, e.g. uniform(-0.05, 0.05). Do not repeat constants. If the text's formulas write a variable as
    one of the symbols (e.g. x_dot, T_in, F), put that symbol in symbol."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    symbols: list[str] = dspy.InputField(desc="the symbols the text's formulas use")
    parameters: list[Parameter] = dspy.InputField(desc="constants already extracted")
    objectives: list[Objective] = dspy.InputField()
    variables: list[Variable] = dspy.OutputField()
