"""Build: the constants are the (scalar) parameters.

Reads ``parameters``; writes ``constants`` (name -> value).
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    state.constants = {param.name: param.value for param in state.parameters}


PASS = Pass(name="constants_from_parameters", run=run, kind="build")
