"""Env item agent: one quantity of the step, written under a grammar of the names defined at that point.

The whole-step Env agent sometimes reads a name that nothing defines at that point (``x_dot = x_dot + tau*x_ddot``
with no ``x_ddot``). Such an item is asked again on its own: the step so far is given, and with constrained decoding
(``lm.constrained_decoding: grammar``) the expression can read only the names defined so far. Each call is short
and shares its prompt's start (instructions, description, constants, state, actions) with the other items, which
llama.cpp's prompt cache reuses.
"""

from __future__ import annotations

import dspy

from alamp.schema import Assignment, Parameter, SARAction, Variable

__all__ = ["EnvItemSignature"]


class EnvItemSignature(dspy.Signature):
    """Write the assignment of one quantity in one time step: target = expr, where expr is a Python expression.
    step_so_far lists the assignments computed before it, in order; expr may read only their targets, the
    constants, the variables and the math functions. Use the description's formula for the target when it
    gives one."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    constants: list[Parameter] = dspy.InputField()
    state: list[Variable] = dspy.InputField(desc="state, action and exogenous variables")
    actions: list[SARAction] = dspy.InputField()
    step_so_far: list[str] = dspy.InputField(desc="assignments already computed in this step, in order")
    target: str = dspy.InputField(desc="the quantity to assign")
    assignment: Assignment = dspy.OutputField()
