"""Repair: an exogenous variable with bounds but no distribution is drawn uniformly between its bounds.

Reads ``variables``; where an exogenous variable has an empty ``initial`` and two finite bounds, sets ``initial`` to
``uniform(low, high)`` (``integers(low, high + 1)`` for an integer variable), so ``draws_from_exogenous`` draws it.
Without a distribution the variable is defined nowhere and every update reading it fails to compile; a random input
the text bounds without naming a law ("an inflow between 0 and 16") is read as uniform.

Origin: reservoir (train), a run of 2026-11-29: the Variable agent gave the inflow "uniformly distributed between
0 and 16" as ``low=0, high=16`` with no ``initial``; every Env attempt then failed on ``unknown name 'inflow'``.
"""

from __future__ import annotations

import math
import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def run(state: AssemblyState) -> None:
    variables = []
    for var in state.variables:
        bounded = var.low is not None and var.high is not None and math.isfinite(var.low) and math.isfinite(var.high)
        if var.role == "exogenous" and not var.initial.strip() and bounded and var.low < var.high:
            if var.domain in ("integer", "binary", "categorical"):
                law = f"integers({_number(var.low)}, {_number(var.high + 1)})"
            else:
                law = f"uniform({_number(var.low)}, {_number(var.high)})"
            state.fire(f"exogenous {var.name!r} has bounds but no distribution: drawn as {law}")
            var = var.model_copy(update={"initial": law})  # a copy: the Variable agent's record stays as written
        variables.append(var)
    state.variables = variables


PASS = Pass(
    name="bounded_exogenous_is_uniform",
    run=run,
    kind="repair",
    origin="reservoir (train): inflow bounded [0, 16] with no distribution",
    note_pattern=re.compile(r"^exogenous '[^']*' has bounds but no distribution"),
)
