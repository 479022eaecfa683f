"""Repair: bounds equal to the ``uniform(a, b)`` start range are the start range copied, not bounds.

Reads ``state_vars``; where ``low``/``high`` equal the start distribution's range, clears them (the variable is then
unbounded). A state confined to its start range is never what a description means, and the small model copies the
start range into the bounds often.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import math
import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Variable

_UNIFORM = re.compile(r"^\s*(?:np\.random\.|random\.)?uniform\(\s*([-+.\deE]+)\s*,\s*([-+.\deE]+)\s*\)\s*$")


def bounds_are_start_range(var: Variable) -> bool:
    """``low``/``high`` equal to the ``uniform(a, b)`` start range of ``var``."""
    match = _UNIFORM.match(var.initial or "")
    if not match or var.low is None or var.high is None or var.low == var.high:
        return False
    try:
        start_low, start_high = float(match.group(1)), float(match.group(2))
    except ValueError:
        return False
    return math.isclose(var.low, start_low) and math.isclose(var.high, start_high)


def run(state: AssemblyState) -> None:
    for var in state.state_vars:
        if bounds_are_start_range(var):
            state.fire(
                f"state {var.name!r}: bounds [{var.low}, {var.high}] equal its start range "
                f"{var.initial}; read as a start range only, the variable is left unbounded"
            )
            var.low, var.high = None, None


PASS = Pass(
    name="start_range_not_bounds",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^state '[^']*': bounds .* equal its start range"),
)
