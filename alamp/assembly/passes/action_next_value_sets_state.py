"""Repair: an action's effect ``x_next = ...`` for state ``x`` sets ``x``.

Reads ``actions``, the state names, ``constants`` and the Env agent's update targets; rewrites the target of such an
effect to ``x`` and records ``x`` in ``set_by_actions`` (later reads of ``x_next`` in the shared updates are ``x``,
see ``next_value_after_its_update``). A state an action does not assign keeps its value, so this keeps the meaning;
kept as written, ``x_next`` is an action variable that not every action assigns, which the checker refuses.

Origin: commit 200e46f (wireless seed 0, mountain_car seed 2: "an action variable only some actions set").
Only known origin: test tasks.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import next_value_names
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment


def run(state: AssemblyState) -> None:
    names = state.state_names
    defined = set(state.constants) | {u.target for u in state.updates}
    for action in state.actions:
        for i, update in enumerate(action.updates):
            base = next_value_names([update.target], names, defined).get(update.target)
            if base is not None:
                action.updates[i] = Assignment(target=base, expr=update.expr)
                state.set_by_actions.add(base)
                state.fire(f"action {action.name!r}: {update.target!r} = ... read as the next value of state "
                           f"{base!r}")  # fmt: skip


PASS = Pass(
    name="action_next_value_sets_state",
    run=run,
    kind="repair",
    origin="200e46f: wireless seed 0, mountain_car seed 2",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^action '[^']*': '[^']*' = \.\.\. read as the next value of state"),
)
