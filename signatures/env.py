"""Env agent: the ordered update equations of one environment step.

The rest of the environment spec (constants, state, actions, reward, termination, horizon) is assembled from
the upstream agents' typed outputs by ``alamp.assemble``; this agent writes only what is missing.
"""

from __future__ import annotations

import dspy

from alamp.schema import Assignment, Parameter, SARAction, Variable

__all__ = ["EnvSignature"]


class EnvSignature(dspy.Signature):
    """Write the update equations of one time step as ordered assignments target = expr (expr is a Python
    expression). The chosen action's effect has already run. Compute intermediate quantities first, then the
    next value of every state variable; each assignment sees the values assigned before it. Use only the given
    names, numbers and math functions (sin, cos, sqrt, abs, min, max, clip). If feedback is given, fix it."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    constants: list[Parameter] = dspy.InputField()
    state: list[Variable] = dspy.InputField(desc="state, action and exogenous variables")
    actions: list[SARAction] = dspy.InputField()
    transitions: list[str] = dspy.InputField(desc="the MDP's transition equations")
    feedback: str = dspy.InputField(desc="errors in the previous attempt; empty on the first attempt")
    updates: list[Assignment] = dspy.OutputField()
