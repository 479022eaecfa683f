"""Repair: ``x_next`` read in an update after the one that sets ``x`` is ``x`` (semi-implicit Euler).

Reads and rewrites ``shared``: in ``x = x + dt * v_next`` after ``v = ...`` (or after an action set ``v``), nothing
defines ``v_next`` and ``v`` already holds its next value. Read before ``v`` is set, ``v_next`` is left for the
checker to report (its value is not known yet).

Origin: commit db78607 (cartpole seed 2: ``x_next = x + 0.02 * v_next``). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import next_value_names, rename
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment


def run(state: AssemblyState) -> None:
    names, defined = state.state_names, state.defined()
    assigned: set[str] = set(state.set_by_actions)
    for index, update in enumerate(state.shared):
        later = {alias: base for alias, base in next_value_names([update.expr], names, defined).items()
                 if base in assigned}  # fmt: skip
        if later:
            state.shared[index] = Assignment(target=update.target, expr=rename(update.expr, later))
            for alias, base in sorted(later.items()):
                state.fire(f"update {update.target!r}: {alias!r} read as state {base!r}, which an earlier update "
                           "already set to its next value")  # fmt: skip
        assigned.add(update.target)


PASS = Pass(
    name="next_value_after_its_update",
    run=run,
    kind="repair",
    origin="db78607: cartpole seed 2",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^update '[^']*': '[^']*' read as state '[^']*', which an earlier update"),
)
