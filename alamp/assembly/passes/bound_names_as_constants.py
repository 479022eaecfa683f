"""Repair: a name read but defined nowhere that names a state's bound (``high_velocity``, ``x_max``, ``min_x``) is
that bound.

Reads every expression and ``state``; adds ``constants[name]`` = the finite bound. The model writes
``clip(velocity, low_velocity, high_velocity)`` with the bounds the Variable agent gave but never named.

Origin: commit 6299305 (mountain_car seed 0: ``high_velocity``, ``low_velocity``). Only known origin: a test task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_read
from alamp.assembly.state import AssemblyState
from alamp.schema import StateVariable

_BOUND_WORDS = {"high": "high", "max": "high", "upper": "high", "maximum": "high",
                "low": "low", "min": "low", "lower": "low", "minimum": "low"}  # fmt: skip


def state_bound_named(name: str, state: Sequence[StateVariable]) -> float | None:
    """The finite bound of a state variable that ``name`` names (``high_velocity``, ``velocity_max``, ``min_x``)."""
    for var in state:
        for word, side in _BOUND_WORDS.items():
            if name in (f"{word}_{var.name}", f"{var.name}_{word}"):
                value = var.high if side == "high" else var.low
                return float(value) if value is not None and math.isfinite(value) else None
    return None


def run(state: AssemblyState) -> None:
    read = names_read(state.shared, state.actions, state.expressions())
    for missing in sorted(read - state.defined(reserved=True)):
        bound = state_bound_named(missing, state.state)
        if bound is not None:
            state.constants[missing] = bound
            state.fire(f"{missing!r} is read but nothing defines it; it names a bound of a state variable: "
                       f"{missing} = {bound:g}")  # fmt: skip


PASS = Pass(
    name="bound_names_as_constants",
    run=run,
    kind="repair",
    origin="6299305: mountain_car seed 0 (high_velocity, low_velocity)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^'[^']*' is read but nothing defines it; it names a bound of a state variable"),
)
