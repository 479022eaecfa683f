"""Repair: no variable has role ``state``, so the MDP's state names are the state variables.

Reads ``state_vars`` and ``mdp.states``; when there are no state variables, writes one per MDP state, with no bounds
and start 0. Without state variables there is no environment; the Modeling agent named the states, so they are what
the description means.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Variable


def run(state: AssemblyState) -> None:
    if state.state_vars:
        return
    state.state_vars = [Variable(name=s, role="state") for s in state.mdp.states]
    state.fire("no variable has role 'state'; used the MDP's state names with no bounds and start 0")


PASS = Pass(
    name="mdp_states_as_state",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^no variable has role 'state'"),
)
