"""Repair: a parameter's symbol (``M``, ``τ``) is also a constant, when it names nothing else.

Reads ``parameters`` (their ``symbol``) and ``constants``; adds ``constants[to_identifier(symbol)]``. The text's
equations use the symbols and the Env agent copies them, so both ``M`` and ``total_mass`` must resolve.

Origin: commit e953190 ("Parameters carry the symbol the text's equations use"); no task named.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema._names import to_identifier


def run(state: AssemblyState) -> None:
    names = state.state_names
    for param in state.parameters:
        if not param.symbol.strip() or param.name not in state.constants:
            continue
        try:
            alias = to_identifier(param.symbol)
        except ValueError:
            continue
        if alias != param.name and alias not in state.constants and alias not in names:
            state.constants[alias] = param.value
            state.fire(f"parameter {param.name!r}: its symbol {param.symbol!r} is also usable as {alias!r}")


PASS = Pass(
    name="parameter_symbol_aliases",
    run=run,
    kind="repair",
    origin="e953190: symbols of the text's equations (no task named)",
    note_pattern=re.compile(r"^parameter '[^']*': its symbol .* is also usable as"),
)
