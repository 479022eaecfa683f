"""Repair: the symbol the text says stands for the chosen action ("where a is 0, 1 or 2 for the chosen action") reads
as the built-in ``action``.

Reads ``text_action_symbols`` (see :func:`alamp.assembly.action_symbols_in_text`); renames that symbol in the shared
updates, the actions' updates, the reward and the termination conditions, when they read it and nothing assigns it
(a constant of that name is then no longer read). The Parameter agent extracts ``a = 0`` as a constant, and the
environment ignores the agent.

Origin: commit ded2936 (mountain_car: ``a`` was extracted as the constant 0). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_read
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    moving = state.state_names | {d.name for d in state.draws} | state.shared_targets | state.action_targets
    as_action = {s: "action" for s in state.text_action_symbols if s not in moving and s != "action"}
    if not as_action:
        return
    read = names_read(state.shared, state.actions, [state.reward, *state.terminated])
    as_action = {k: v for k, v in as_action.items() if k in read}
    if not as_action:
        return
    state.rename(as_action)  # nothing assigns these symbols: only their reads change
    for symbol in sorted(as_action):
        shadowed = f" (the constant {symbol!r} is no longer read)" if symbol in state.constants else ""
        state.fire(f"{symbol!r} read as the chosen action's index `action`, as the text says{shadowed}")


PASS = Pass(
    name="text_action_symbol_is_action",
    run=run,
    kind="repair",
    origin="ded2936: mountain_car ('where a is 0, 1 or 2 for the chosen action')",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^'[^']*' read as the chosen action's index `action`"),
)
