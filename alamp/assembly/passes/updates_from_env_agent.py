"""Build: the shared updates are the Env agent's update equations, in order.

Reads ``updates``; writes ``shared`` (the updates every action shares, run after the chosen action's own).
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    state.shared = list(state.updates)


PASS = Pass(name="updates_from_env_agent", run=run, kind="build")
