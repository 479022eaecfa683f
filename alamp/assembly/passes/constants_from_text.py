"""Repair: a name the expressions read that nothing defines, but the text defines with one number, is that constant.

Reads ``text_constants`` (see :func:`alamp.assembly.constants_in_text`: "total mass M = 1.1 kg") and every
expression; adds ``constants[name]``. The Env agent copies the text's symbols; the Parameter agent may have missed
one. A name defined otherwise (an agent's constant wins) or reserved (``sin``) is never taken.

Origin: commit d9dd5c6 (cartpole seed 1 failed on ``M``). Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import identifier_or_none, names_read
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    if not state.text_constants:
        return
    defined = state.defined(reserved=True)
    others = [*state.expressions(), *(s.init for s in state.state)]
    read = {identifier_or_none(n) for n in names_read(state.shared, state.actions, others)} - {None}
    for missing in sorted(read - defined):  # type: ignore[type-var]
        if missing in state.text_constants:
            state.constants[missing] = float(state.text_constants[missing])
            state.fire(f"{missing!r} is read but no agent defined it; the text defines it: "
                       f"{missing} = {state.text_constants[missing]:g}")  # fmt: skip


PASS = Pass(
    name="constants_from_text",
    run=run,
    kind="repair",
    origin="d9dd5c6: cartpole seed 1 ('total mass M = 1.1 kg')",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^'[^']*' is read but no agent defined it; the text defines it"),
)
