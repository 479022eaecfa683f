"""Repair: a statement where an expression was asked (``x: "x_next = x + 1"``) is read as its expression.

Reads and rewrites ``shared``. Only when the assigned name is the target itself or its next-value form (``x_next``,
``x_new``, ``x'``): then the meaning is unambiguous. Another name is left for the spec compiler to report.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import ASSIGN
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment
from alamp.schema._names import NEXT_VALUE_SUFFIXES, to_identifier


def strip_statement(update: Assignment) -> tuple[Assignment, str | None]:
    """``target: "x_next = x + 1"`` -> ``target: "x + 1"`` and a note; ``update`` itself and None otherwise."""
    match = ASSIGN.match(update.expr)
    if not match or match.group(2):
        return update, None
    name = to_identifier(match.group(1))
    forms = {update.target, *(update.target + s for s in NEXT_VALUE_SUFFIXES)}
    if name not in forms:
        return update, None
    fixed = Assignment(target=update.target, expr=match.group(3))
    return fixed, f"update {update.target!r}: read {update.expr!r} as the expression {fixed.expr!r}"


def run(state: AssemblyState) -> None:
    shared = []
    for update in state.shared:
        fixed, note = strip_statement(update)
        if note:
            state.fire(note)
        shared.append(fixed)
    state.shared = shared


PASS = Pass(
    name="statement_as_expression",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^update '[^']*': read .* as the expression"),
)
