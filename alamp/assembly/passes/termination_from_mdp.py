"""Repair: with no termination constraint, the MDP's termination conditions are used.

Reads ``terminated`` and ``mdp.termination``; fills ``terminated`` when it is empty. The Constraint agent may file
the ending condition under another kind; the Modeling agent's list says the same thing.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    if state.terminated:
        return
    state.terminated = list(dict.fromkeys(t for t in state.mdp.termination if t.strip()))
    if state.terminated:
        state.fire("no termination constraint; used the MDP's termination conditions")


PASS = Pass(
    name="termination_from_mdp",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^no termination constraint; used the MDP's"),
)
