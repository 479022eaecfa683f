"""Repair: an identity update (``x = x``, also in statement form ``x: "x = x"``) is dropped.

Reads and rewrites ``shared``. It changes nothing whatever the target is; kept, it fails as "assigns to constant"
when the target is a constant (the Variable agent made ``channel1_good`` a parameter, then the Env agent wrote
``channel1_good = channel1_good``). Since ``assigned_parameter_is_state`` (commit 7778510), a kept identity on a
constant only makes the constant a needless state variable with the same dynamics.

Origin: commit a3f4774, "each from a real failure of the embedded model on seed 0 (wireless, mountain_car,
drone)": wireless's ``channel1_good``. Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import is_identity
from alamp.assembly.passes.statement_as_expression import strip_statement
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    kept = []
    for update in state.shared:
        if is_identity(strip_statement(update)[0]):
            state.fire(f"update {update.target!r}: dropped the identity update {update.expr!r} (it changes nothing)")
        else:
            kept.append(update)
    state.shared = kept


PASS = Pass(
    name="identity_updates_dropped",
    run=run,
    kind="repair",
    origin="a3f4774: wireless seed 0 (channel1_good = channel1_good on a parameter)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^update '[^']*': dropped the identity update"),
)
