"""Build: the state variables are the Variable agent's variables of role ``state``.

Reads ``variables``; writes ``state_vars`` (copies, so later passes may change bounds and start values without
touching the agent's output).
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    state.state_vars = [v.model_copy() for v in state.variables if v.role == "state"]


PASS = Pass(name="state_variables", run=run, kind="build")
