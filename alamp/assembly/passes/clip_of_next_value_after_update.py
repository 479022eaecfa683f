"""Repair: ``x_next = f(x_next)`` after an update has set ``x`` reads as ``x = f(x)``.

Reads and rewrites ``shared``. The model computes ``v = v + a*dt`` and then clips "the next value" with
``v_next = clip(v_next, lo, hi)``: the clip of the value just computed. Kept, ``v_next`` reads a name nothing defines.

Origin: commit 6299305 (mountain_car seed 0: ``velocity_next = max(min(velocity_next, high_velocity),
low_velocity)`` after ``velocity = ...``). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_in, rename
from alamp.assembly.passes.next_value_update_sets_state import next_value_base
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment


def run(state: AssemblyState) -> None:
    names = state.state_names
    declared = set(state.constants) | names | {d.name for d in state.draws} | state.action_targets
    out: list[Assignment] = []
    earlier: set[str] = set()
    for update in state.shared:
        found = next_value_base(update.target, names, declared)
        if found:
            base, suffix = found
            if base in earlier and update.target not in earlier and update.target in names_in(update.expr):
                update = Assignment(target=base, expr=rename(update.expr, {update.target: base}))
                state.fire(f"update {update.target!r}: {base}{suffix} = f({base}{suffix}) after {base} was set "
                           f"read as {base} = {update.expr}")  # fmt: skip
        out.append(update)
        earlier.add(update.target)
    state.shared = out


PASS = Pass(
    name="clip_of_next_value_after_update",
    run=run,
    kind="repair",
    origin="6299305: mountain_car seed 0",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^update '[^']*': \w+ = f\(\w+\) after \w+ was set read as"),
)
