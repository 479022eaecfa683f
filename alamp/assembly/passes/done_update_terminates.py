"""Repair: an update named ``terminated`` or ``done`` is also a termination condition.

Reads ``shared``; appends the name to ``terminated`` (once). Writes no note (it never did): the Env agent computing
the end of the episode among its updates is an unambiguous way of saying it.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState

DONE_NAMES = ("terminated", "done")


def run(state: AssemblyState) -> None:
    for update in state.shared:
        if update.target in DONE_NAMES and update.target not in state.terminated:
            state.terminated.append(update.target)
            state.fire()


PASS = Pass(
    name="done_update_terminates",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
)
