"""Repair: prose in an action's effect ("push the cart to the left") is ignored, and said so.

Reads ``action_prose`` (set aside by ``actions_from_sar``); changes no update, writes one note per action. The SAR
agent often describes an effect in words; only assignments can be executed, and the Env agent's updates carry the
dynamics.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    for index, action in enumerate(state.actions):
        ignored = state.action_prose.get(index)
        if ignored:
            state.fire(f"action {action.name!r}: ignored non-assignment text {ignored}")


PASS = Pass(
    name="action_prose_ignored",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^action '[^']*': ignored non-assignment text"),
)
