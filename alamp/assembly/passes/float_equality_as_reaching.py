"""Repair: a termination condition ``x == c`` on a continuous state is read as reaching ``c`` (``x >= c``).

Reads and rewrites ``spec.terminated`` (on the built spec: it compiles it and samples 16 start states). The small
model writes "once the position reaches 0.5" as an equality, which a continuous state almost never meets exactly, so
the episode could only end by truncation. The rewrite needs every sampled start value on one side of the number
(then "reaches" can only mean crossing it from there); counters and grid cells compared to whole numbers keep ``==``.

Origin: commit 1fb1c63 (mountain_car seed 0: ``position == 0.5``). Only known origin: a test task.
"""

from __future__ import annotations

import ast
import re

import numpy as np
from pydantic import ValidationError

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import EnvSpec

START_PROBES = 16
"""Start states sampled to decide on which side of a number a state starts."""


class _ReachFromStart(ast.NodeTransformer):
    """``x == c`` -> ``x >= c`` (or ``<=``) where every start value of the state ``x`` lies below (above) ``c``."""

    def __init__(self, starts: dict[str, np.ndarray], constants: dict[str, float]) -> None:
        self.starts, self.constants = starts, constants

    def _number(self, node: ast.expr) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self._number(node.operand)
            return None if inner is None else -inner
        if isinstance(node, ast.Name) and node.id in self.constants:
            return float(self.constants[node.id])
        return None

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq):
            return node
        left, right = node.left, node.comparators[0]
        if not (isinstance(left, ast.Name) and left.id in self.starts):
            left, right = right, left
        if not isinstance(left, ast.Name) or left.id not in self.starts:
            return node
        target = self._number(right)
        if target is None:
            return node
        starts = self.starts[left.id]
        # A state that starts on whole numbers and is compared to a whole number is a counter or a grid cell:
        # there == is meant and hit.
        if np.all(starts == np.round(starts)) and float(target).is_integer():
            return node
        if np.all(starts < target):
            return ast.Compare(left=left, ops=[ast.GtE()], comparators=[right])
        if np.all(starts > target):
            return ast.Compare(left=left, ops=[ast.LtE()], comparators=[right])
        return node


def read_float_equalities_as_reached(spec: EnvSpec) -> tuple[EnvSpec, list[tuple[str, str]]]:
    """Read ``position == 0.5`` in a termination condition as reaching 0.5 (``position >= 0.5``).

    The small model writes "once the position reaches 0.5" as an equality, which a continuous state almost never meets
    exactly, so the episode could only end by truncation. The rewrite needs every sampled start value on one side of
    the number (then "reaches" can only mean crossing it from there); counters and grid cells compared to whole
    numbers keep their ``==``.
    """
    from alamp.spec import SpecError, compile_spec

    if not any("==" in condition for condition in spec.terminated):
        return spec, []
    try:
        env = compile_spec(spec).make_env()
        samples = []
        for seed in range(START_PROBES):
            env.reset(seed=seed)
            samples.append(np.asarray(env.unwrapped.get_state(), dtype=float))
    except (SpecError, ValidationError, ValueError, ArithmeticError):
        return spec, []
    starts = {var.name: np.array([row[i] for row in samples]) for i, var in enumerate(spec.state)}
    transformer = _ReachFromStart(starts, dict(spec.constants))
    conditions, changed = [], []
    for condition in spec.terminated:
        try:
            tree = ast.parse(condition, mode="eval")
        except SyntaxError:
            conditions.append(condition)
            continue
        rewritten = ast.unparse(ast.fix_missing_locations(transformer.visit(tree)))
        if rewritten != ast.unparse(ast.parse(condition, mode="eval")):
            changed.append((condition, rewritten))
            conditions.append(rewritten)
        else:
            conditions.append(condition)
    if not changed:
        return spec, []
    return EnvSpec.model_validate(spec.model_dump() | {"terminated": conditions}), changed


def run(state: AssemblyState) -> None:
    if state.spec is None:  # nothing built (a pass list without build_spec): nothing to rewrite
        return
    state.spec, changed = read_float_equalities_as_reached(state.spec)
    for old, new in changed:
        state.fire(
            f"termination condition {old!r} compares a continuous state to a number with ==, which a step almost "
            f"never hits exactly; every start state lies on one side, so it was read as reaching it: {new!r}"
        )


PASS = Pass(
    name="float_equality_as_reaching",
    run=run,
    kind="repair",
    origin="1fb1c63: mountain_car seed 0 (position == 0.5)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^termination condition .* compares a continuous state to a number with =="),
)
