"""Repair: a "constant" the updates assign changes over time: it is a state variable starting at its value.

Reads ``constants``, ``shared`` and ``actions``; moves each assigned constant to ``state`` (unbounded, unclipped).
The Variable agent made ``channel1_good`` a parameter, then the Env agent updated it every step; the compiler refuses
an assignment to a constant.

Origin: commit 7778510 (wireless seed 0: ``channel1_good``). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.passes.self_update_is_counter import added_state
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    assigned = state.shared_targets | state.action_targets
    for promoted in sorted(assigned & set(state.constants)):
        value = state.constants.pop(promoted)
        state.state.append(
            added_state(promoted, repr(float(value)), "a parameter the updates assign", state.unbounded)
        )
        state.fire(f"parameter {promoted!r} is assigned by the updates, so it is not constant: made it a state "
                   f"variable starting at {value:g}")  # fmt: skip


PASS = Pass(
    name="assigned_parameter_is_state",
    run=run,
    kind="repair",
    origin="7778510: wireless seed 0 (channel1_good)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^parameter '[^']*' is assigned by the updates, so it is not constant"),
)
