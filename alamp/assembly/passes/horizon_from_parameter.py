"""Repair: a horizon written as a parameter's name (``"horizon": "max_steps"``) takes that constant's value.

Reads ``mdp.horizon_parameter`` and ``constants``; sets ``max_steps`` when the name is a constant of at least 1, and
otherwise notes that the default horizon was kept (a note without a change: the pass does not fire).

Origin: commit 66d927c ("seen on cartpole"). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    name = state.mdp.horizon_parameter
    if not name:
        return
    value = state.constants.get(name)
    if value is not None and value >= 1:
        state.max_steps = int(round(value))
        state.fire(f"horizon written as the parameter {name!r}: used its value {state.max_steps}")
    else:
        state.note(f"horizon written as {name!r}, which names no positive constant; used the default {state.max_steps}")


PASS = Pass(
    name="horizon_from_parameter",
    run=run,
    kind="repair",
    origin="66d927c: cartpole (horizon written as max_steps)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^horizon written as the parameter"),
)
