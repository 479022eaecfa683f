"""Repair: an update both in the shared step and in actions' effects applies once, where it belongs.

Reads and rewrites ``actions`` and ``shared``. An action's updates run before the shared step, so a copy of a step
update (same target, same expression once whitespace is ignored) applies that update twice per step. When every
action carries the copy, the update is the step's: the actions' copies are dropped (the epidemic advanced two days
per decision). When only some actions carry it, it is their effect: the step's copy is dropped, as it applied the
effect whatever the action (elevator, dev: ``move_up``'s floor change also in the step moved the car up on every
action; pendulum_swingup, dev: ``u_next = torque_plus`` in the step overwrote every action's torque). Only exact copies
count; an action that sets a quantity differently from the step is left alone.

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
    effects = [{_key(u.target, u.expr) for u in action.updates} for action in state.actions]
    for update in list(state.shared):
        holders = [
            a.name for a, keys in zip(state.actions, effects, strict=True) if _key(update.target, update.expr) in keys
        ]
        if holders and len(holders) < len(state.actions):
            state.shared.remove(update)
            state.fire(f"update '{update.target} = {update.expr}' is the effect of {holders}, not of every action: "
                       "dropped from the shared step (it applied whatever the action)")  # fmt: skip
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
    note_pattern=re.compile(
        r"^action '[^']*': dropped \[.*\], copies of the step's own updates|^update '.*' is the effect of \["
    ),
)
