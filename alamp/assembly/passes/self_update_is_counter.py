"""Repair: a name nothing declares whose first assignment reads itself (``steps_taken = steps_taken + 1``) is a
counter: a state variable starting at 0.

Reads ``actions`` and ``shared`` (their first assignment per name, actions first); appends unbounded, unclipped
state variables to ``state``. The agents forgot to declare it; as written it reads a name that has no value.

Origin: commit 902b020 ("seen in seed-0 runs"; drone seed 0: ``steps_taken``). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_in
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment, StateVariable


def added_state(name: str, init: str, description: str, unbounded: float) -> StateVariable:
    """A state variable the assembly adds (no bounds stated, so none clipped)."""
    return StateVariable(name=name, low=-unbounded, high=unbounded, init=init, clip=False, description=description)


def run(state: AssemblyState) -> None:
    declared = set(state.constants) | state.state_names | {d.name for d in state.draws}
    first: dict[str, Assignment] = {}
    for update in [*(u for a in state.actions for u in a.updates), *state.shared]:
        first.setdefault(update.target, update)
    for target, update in sorted(first.items()):
        if target not in declared and target in names_in(update.expr):
            state.state.append(
                added_state(target, "0", "an undeclared name whose update reads itself", state.unbounded)
            )
            state.fire(f"{target!r} is updated from itself ({target} = {update.expr}) but nothing declares it: "
                       f"made it a state variable starting at 0")  # fmt: skip


PASS = Pass(
    name="self_update_is_counter",
    run=run,
    kind="repair",
    origin="902b020: drone seed 0 (steps_taken = steps_taken + 1)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^'[^']*' is updated from itself .* but nothing declares it"),
)
