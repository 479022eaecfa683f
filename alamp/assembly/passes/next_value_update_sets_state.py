"""Repair: an update ``x_next = ...`` for state ``x`` that nothing else assigns ``x`` from is the next value of ``x``.

Reads and rewrites ``shared``: keeps ``x_next`` as an intermediate and appends ``x = x_next`` at the end. This keeps
the meaning exactly: every ``*_next`` equation still sees the old values. Not when ``x_next`` is a declared name
(constant, state, draw or action variable), nor when an update assigns ``x`` itself.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment
from alamp.schema._names import NEXT_VALUE_SUFFIXES


def next_value_base(target: str, state_names: set[str], declared: set[str]) -> tuple[str, str] | None:
    """``("x", "_next")`` when ``target`` is ``x_next`` for a state ``x`` and is not itself declared."""
    for suffix in NEXT_VALUE_SUFFIXES:
        base = target[: -len(suffix)] if target.endswith(suffix) else None
        if base and base in state_names and target not in declared:
            return base, suffix
    return None


def run(state: AssemblyState) -> None:
    names = state.state_names
    declared = set(state.constants) | names | {d.name for d in state.draws} | state.action_targets
    assigned = state.shared_targets
    for update in state.shared:
        found = next_value_base(update.target, names, declared)
        if found and found[0] not in assigned:
            state.shared = [*state.shared, Assignment(target=found[0], expr=update.target)]
            state.fire(f"update {update.target!r} read as the next value of state {found[0]!r}")


PASS = Pass(
    name="next_value_update_sets_state",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^update '[^']*' read as the next value of state"),
)
