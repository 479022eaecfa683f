"""Repair: an action whose effect repeats an update of the shared step (``S = S - new_infections`` in the action and in
the step) applies it once: the action's copy is dropped.

Reads and rewrites ``actions``; reads ``shared``. An action's updates run before the shared step, so a copy of a
step update (same target, same expression once whitespace is ignored) applies that update twice per step: the
epidemic advanced two days per decision. Only exact copies are dropped; an action that sets a quantity differently
from the step is left alone.

Origin: epidemic_control (dev, seed 0, nearest demos): the SAR agent wrote the whole step (``new_infections =
beta*S*I; S = S - new_infections; I = ...``) into each action's effect and the Env agent wrote it again; return
-28.1 against the threshold -20.5.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def _key(target: str, expr: str) -> tuple[str, str]:
    return target, "".join(expr.split())


def run(state: AssemblyState) -> None:
    step = {_key(u.target, u.expr) for u in state.shared}
    for action in state.actions:
        copies = [u for u in action.updates if _key(u.target, u.expr) in step]
        if copies:
            action.updates = [u for u in action.updates if _key(u.target, u.expr) not in step]
            state.fire(
                f"action {action.name!r}: dropped {[f'{u.target} = {u.expr}' for u in copies]}, copies of the "
                "step's own updates (they ran twice per step)"
            )


PASS = Pass(
    name="action_copies_of_the_step_dropped",
    run=run,
    kind="repair",
    origin="epidemic_control (dev, seed 0, nearest demos): the whole step in each action's effect",
    note_pattern=re.compile(r"^action '[^']*': dropped \[.*\], copies of the step's own updates"),
)
