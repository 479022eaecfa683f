"""Repair: actions that each set a number on a name the step never reads set the one name the step reads undefined.

Reads ``shared``, ``actions``, ``text_formulas``; rewrites the actions' targets. When exactly one name read by the
shared step is defined nowhere (and the text gives it no formula), every action sets exactly one name to a number,
the numbers are not all equal, and none of the names set is read by the step, then that one name is what the
actions choose: each action sets it to its number. The SAR agent wrote ``torque_minus = -2``, ``torque_plus = 0``,
``torque_plus = 2`` (each action's own label, or its neighbour's) while the text's step reads ``u``, "the torque
chosen this step"; the environment then ignored the agent.

When every action sets the next-value spelling of that name (``u_next = -2`` ... while the step reads ``u``), the two
names are one quantity: ``u_next`` is renamed ``u`` wherever it appears.

Origin: pendulum_swingup (dev, session 14): the text's own lines for the step read ``u``; the Symbol value agent
rightly found no constant for it ("torque applied to the rod"), and the actions set ``torque_minus``/``torque_plus``
in one run, ``u_next`` in another.
"""

from __future__ import annotations

import ast
import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_in
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment
from alamp.text_step import updated_name

_OPERATORS = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}


def number_or_none(expr: str) -> float | None:
    """The value of an effect that is a plain number (``-2``, ``+2.5``, ``1/2``); None for anything else."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None

    def value(node: ast.AST) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = value(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = value(node.left), value(node.right)
            if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
                return None
            return _OPERATORS[type(node.op)](left, right)
        return None

    return value(tree.body)


def run(state: AssemblyState) -> None:
    if len(state.actions) < 2 or any(len(a.updates) != 1 for a in state.actions):
        return
    read_by_step = set().union(*(names_in(u.expr) for u in state.shared))
    undefined = read_by_step - state.defined(reserved=True) - set(state.text_formulas)
    if len(undefined) != 1:
        return
    (symbol,) = undefined
    values = [number_or_none(a.updates[0].expr) for a in state.actions]
    targets = {a.updates[0].target for a in state.actions}
    if any(v is None for v in values) or len(set(values)) < 2 or symbol in targets:
        return
    (target,) = targets if len(targets) == 1 else ("",)
    if target and updated_name(target, [symbol]) == symbol and target not in state.state_names:
        # u_next set by every action while the step reads u, which nothing defines: the same quantity, one name.
        state.rename({target: symbol})
        state.fire(f"the actions set {target!r} and the step reads {symbol!r}, which nothing defines: one quantity, "
                   f"named {symbol!r}")  # fmt: skip
        return
    if targets & read_by_step:
        return
    for action in state.actions:
        old = action.updates[0]
        action.updates = [Assignment(target=symbol, expr=old.expr)]
        state.fire(f"action {action.name!r}: sets {symbol!r} (read by the step, defined nowhere) to {old.expr}, "
                   f"not {old.target!r}, which the step never reads")  # fmt: skip


PASS = Pass(
    name="action_values_set_the_read_symbol",
    run=run,
    kind="repair",
    origin="pendulum_swingup (dev, session 14): actions set torque_minus/torque_plus, the text's step reads u",
    note_pattern=re.compile(
        r"^action '[^']*': sets '[^']*' \(read by the step, defined nowhere\)"
        r"|^the actions set '[^']*' and the step reads"
    ),
)
