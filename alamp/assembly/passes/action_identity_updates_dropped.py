"""Repair: an action's identity update (``position = position``) is dropped.

Reads and rewrites ``actions``. It changes nothing. Kept, it is harmless on a state variable (an action may set a
state that other actions leave alone); on a constant, ``assigned_parameter_is_state`` would make the constant a
needless state variable. So this pass now only keeps the spec clean (tests/test_assembly_passes.py shows both).

Origin: commit a3f4774, "each from a real failure of the embedded model on seed 0 (wireless, mountain_car,
drone)". Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import is_identity
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    for action in state.actions:
        identities = [u for u in action.updates if is_identity(u)]
        if identities:
            action.updates = [u for u in action.updates if not is_identity(u)]
            state.fire(
                f"action {action.name!r}: dropped the identity updates "
                f"{[f'{u.target} = {u.expr}' for u in identities]} (they change nothing)"
            )


PASS = Pass(
    name="action_identity_updates_dropped",
    run=run,
    kind="repair",
    origin="a3f4774: seed-0 runs of wireless, mountain_car, drone",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^action '[^']*': dropped the identity updates"),
)
