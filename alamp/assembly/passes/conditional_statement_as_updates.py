"""Repair: a step written by cases (``if move == 0: row = row - 1 elif move == 1: col = col + 1 else: row = row``) is
one update per assigned name, each a conditional expression with that name unchanged where its case does not
assign it.

Reads and rewrites ``shared``. An update whose expression is such a statement (``elif`` or ``else if`` between the
cases; a final ``else: x = e``, or a bare ``else e`` for the update's own target) becomes, for each name the cases
assign, in order of first assignment, ``name = a if c else (b if d else name)``: Python's meaning of the statement.
The same statement repeated under several targets (the model writes it once per state) is read once. Left alone
(for the checker to report) when a condition reads a name the cases assign after the first, since the updates run
one after the other and that name's condition would read the first name's new value.

Origin: frozen_lake_slippery (dev, seed 0): 6 of 9 Env answers wrote the step by cases (39 such expressions over the
dev runs). Constrained decoding admits this form (``spec-step`` in ``alamp.lm.grammar``); refused, the model ran the
keyword into a name (``ifmove == left``).
"""

from __future__ import annotations

import ast
import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment

_ELIF = re.compile(r"\s*\b(?:elif|else\s+if)\s+")
_ELSE_COLON = re.compile(r"\s*\belse\s*:\s*")
_ELSE_BARE = re.compile(r"\s*\belse\s+(?!if\b)")


def _statement_source(target: str, expr: str) -> str | None:
    """Python source of the conditional statement ``expr``, or None when it is not one."""
    if not re.match(r"\s*if\s", expr) or ":" not in expr:
        return None
    text = _ELIF.sub("\nelif ", expr.strip())
    text = _ELSE_COLON.sub("\nelse: ", text)
    # A bare ``else e`` closes the statement for the update's own target; an ``else`` inside a conditional
    # expression of a branch (``x = a if c else b``) is left to the parser: only the last line is tried.
    head, _, last = text.rpartition("\n")
    if not last.startswith("else:"):
        pieces = _ELSE_BARE.split(last)
        if len(pieces) == 2 and ":" not in pieces[1]:
            candidate = f"{head}\n{pieces[0]}\nelse: {target} = {pieces[1]}".lstrip("\n")
            try:
                ast.parse(candidate)
                return candidate
            except SyntaxError:
                pass
    return text


def _cases(source: str) -> tuple[list[tuple[ast.expr | None, dict[str, ast.expr]]], list[str]] | None:
    """The statement's cases as (condition or None for ``else``, name -> value), and the names in assignment order."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.If):
        return None
    cases: list[tuple[ast.expr | None, dict[str, ast.expr]]] = []
    order: list[str] = []
    node: ast.If | None = module.body[0]
    orelse: list[ast.stmt] = []
    while node is not None:
        body = _assignments(node.body, order)
        if body is None:
            return None
        cases.append((node.test, body))
        orelse = node.orelse
        node = orelse[0] if len(orelse) == 1 and isinstance(orelse[0], ast.If) else None
    if orelse:  # the loop stops at the first ``else`` that is not an ``elif``
        body = _assignments(orelse, order)
        if body is None:
            return None
        cases.append((None, body))
    return cases, order


def _assignments(statements: list[ast.stmt], order: list[str]) -> dict[str, ast.expr] | None:
    values: dict[str, ast.expr] = {}
    for statement in statements:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            return None
        name = statement.targets[0].id
        values[name] = statement.value
        if name not in order:
            order.append(name)
    return values


def _as_updates(target: str, expr: str) -> list[Assignment] | None:
    source = _statement_source(target, expr)
    parsed = _cases(source) if source is not None else None
    if parsed is None:
        return None
    cases, order = parsed
    read = {n.id for test, _ in cases if test is not None for n in ast.walk(test) if isinstance(n, ast.Name)}
    if read & set(order[1:]):  # the first name's update reads the old values; later ones would not
        return None
    updates = []
    for name in order:
        value: ast.expr = ast.Name(id=name, ctx=ast.Load())
        for test, body in reversed(cases):
            branch = body.get(name, ast.Name(id=name, ctx=ast.Load()))
            value = branch if test is None else ast.IfExp(test=test, body=branch, orelse=value)
        updates.append(Assignment(target=name, expr=ast.unparse(value)))
    return updates


def run(state: AssemblyState) -> None:
    shared: list[Assignment] = []
    read_once: set[str] = set()
    for update in state.shared:
        rewritten = _as_updates(update.target, update.expr)
        if rewritten is None:
            shared.append(update)
            continue
        key = " ".join(update.expr.split())
        if key in read_once:
            state.fire(f"update {update.target!r}: the conditional statement {update.expr!r} was already read")
            continue
        read_once.add(key)
        shared.extend(rewritten)
        state.fire(
            f"update {update.target!r}: read the conditional statement {update.expr!r} as "
            + "; ".join(f"{u.target} = {u.expr}" for u in rewritten)
        )
    state.shared = shared


PASS = Pass(
    name="conditional_statement_as_updates",
    run=run,
    kind="repair",
    origin="frozen_lake_slippery (dev, seed 0): if move == left: row = ... elif move == down: col = ...",
    note_pattern=re.compile(r"^update '[^']*': (read )?the conditional statement"),
)
