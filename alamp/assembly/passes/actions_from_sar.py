"""Build: the actions are the SAR actions, their effects parsed as assignments (``force = -force_mag``, ``y += 1``).

Reads ``sar.actions``; writes ``actions`` (in SAR order) and sets aside, in ``action_prose``, the pieces of an
effect that are not assignments (the pass ``action_prose_ignored`` reports them).
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.effects import parse_assignments
from alamp.assembly.state import AssemblyState
from alamp.schema import ActionSpec


def run(state: AssemblyState) -> None:
    state.actions = []
    state.action_prose = {}
    for index, action in enumerate(state.sar.actions):
        updates, ignored = parse_assignments(action.effect)
        if ignored:
            state.action_prose[index] = ignored
        state.actions.append(ActionSpec(name=action.name, updates=updates, description=action.effect))


PASS = Pass(name="actions_from_sar", run=run, kind="build")
