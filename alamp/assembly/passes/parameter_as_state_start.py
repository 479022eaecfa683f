"""Repair: a parameter that is also a state variable gives that variable's start value, and is no constant.

Reads ``parameters`` and ``state_vars``; removes each parameter named like a state variable from ``parameters`` and,
when the variable states no start, makes the parameter's value its start. A name cannot be both a constant and a
state; the agents list an initial value among the parameters ("initial position 3").

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    names = state.state_names
    kept = []
    for param in state.parameters:
        if param.name not in names:
            kept.append(param)
            continue
        var = next(v for v in state.state_vars if v.name == param.name)
        if not var.initial.strip():
            var.initial = repr(param.value)
        state.fire(f"parameter {param.name!r} is also a state variable; used it as the start value only")
    state.parameters = kept


PASS = Pass(
    name="parameter_as_state_start",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^parameter '[^']*' is also a state variable"),
)
