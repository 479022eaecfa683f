"""Repair: the actions take the effects the text lists them by (``push left (u = -5 N)``).

Reads ``text_action_effects`` (``alamp.description.action_effects_in_text``: the text lists the controller's actions,
in order, each by the value it gives one quantity: "It commands, in order: push left (u = -5 N), no push (u = 0),
push right (u = +5 N)"; "D = 0 (batch), D = 0.15, D = 0.30, D = 0.45") and rewrites ``actions`` when there are as
many as the text lists: action i sets that quantity to the i-th value. Of the agent's own effect, an update of the
same quantity goes, and so does one of a name the text defines by a formula (the SAR agent wrote
``a = -spring_constant*x - damper_coefficient*x_dot`` for "push left", ``a`` being the text's acceleration
``a = (u - k*x - c*x_dot)/m``); the rest stays.

Origin: positioning_stage (dev, session 14): the Variable agent named the action variable ``a`` and the SAR agent
set ``a`` in every action, so the text's step, which reads ``u``, had nothing to read (fidelity 0.00).
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.effects import parse_assignments
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    effects = list(state.text_action_effects)
    if not effects or len(effects) != len(state.actions):
        return
    for action, effect in zip(state.actions, effects, strict=True):
        stated = parse_assignments(effect)[0][0]
        kept = [u for u in action.updates if u.target != stated.target and u.target not in state.text_formulas]
        updates = [stated, *kept]
        if [(u.target, u.expr) for u in updates] == [(u.target, u.expr) for u in action.updates]:
            continue
        dropped = [f"{u.target} = {u.expr}" for u in action.updates if u not in kept]
        action.updates = updates
        state.fire(
            f"action {action.name!r}: {effect}, as the text lists it" + (f" (instead of {dropped})" if dropped else "")
        )


PASS = Pass(
    name="action_effects_as_text_states",
    run=run,
    kind="repair",
    origin="positioning_stage (dev, session 14): the actions set a, the text's acceleration, not u = -5 / 0 / +5",
    note_pattern=re.compile(r"^action '[^']*': .* as the text lists it"),
)
