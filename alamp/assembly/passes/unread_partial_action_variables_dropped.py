"""Repair: an action variable that only some actions set and nothing reads is dropped.

Reads every expression and ``actions``; removes such a variable's updates from the actions (and the shared updates).
It changes nothing, and kept it fails the spec ("every action must assign it"). One that every action sets is kept:
then the executor's action check names it in its hint to the Env agent.

Origin: commit 6299305 (mountain_car seed 0: only the first action set ``move``, which nothing read).
Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import is_identity, names_read
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    read = names_read([u for u in state.shared if not is_identity(u)], state.actions, state.expressions())
    declared = set(state.constants) | state.state_names | {d.name for d in state.draws}
    set_by = [{u.target for u in a.updates} for a in state.actions]
    partial = set().union(*set_by) - set.intersection(*set_by) if set_by else set()
    unread = partial - read - declared
    if not unread:
        return
    for action in state.actions:
        action.updates = [u for u in action.updates if u.target not in unread]
    state.shared = [u for u in state.shared if u.target not in unread]
    state.fire(f"action variable(s) {sorted(unread)} set by actions but read by nothing: dropped (no effect)")


PASS = Pass(
    name="unread_partial_action_variables_dropped",
    run=run,
    kind="repair",
    origin="6299305: mountain_car seed 0 ('move' set by one action, read by nothing)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^action variable\(s\) \[.*\] set by actions but read by nothing"),
)
