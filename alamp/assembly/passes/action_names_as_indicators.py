"""Repair: an action's name used as a value (``force = F * (push_right - push_left)``) is a 0/1 indicator.

Reads ``actions``, ``shared``, ``reward`` and ``terminated``; gives every action an update ``<name> = 1`` (its own)
or ``= 0`` (the others) for each action name read as a value, first in its updates so the action's own effects may
use it too. An action name that is also a constant, state variable, draw or update target keeps that meaning. Not
the observation: it is computed at reset too, before any action.

Origin: commit a3f4774, "each from a real failure of the embedded model on seed 0 (wireless, mountain_car,
drone)": mountain_car's ``push_right - push_left``. Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_read
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment


def run(state: AssemblyState) -> None:
    used = names_read(state.shared, state.actions, [state.reward, *state.terminated])
    defined = state.defined()
    names = [a.name for a in state.actions if a.name in used and a.name not in defined]
    if not names:
        return
    for action in state.actions:
        flags = [Assignment(target=name, expr="1" if name == action.name else "0") for name in names]
        action.updates[:0] = flags
    state.fire(
        f"action names {names} are used as values: each is an action variable, 1 when that "
        "action is chosen and 0 otherwise"
    )


PASS = Pass(
    name="action_names_as_indicators",
    run=run,
    kind="repair",
    origin="a3f4774: mountain_car seed 0 (push_right - push_left)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^action names \[.*\] are used as values"),
)
