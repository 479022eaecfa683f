"""Build: the random draws are the exogenous variables whose ``initial`` is a distribution (``poisson(lam)``).

Reads ``variables``; writes ``draws``.
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import RandomDraw


def run(state: AssemblyState) -> None:
    state.draws = [
        RandomDraw(name=var.name, expr=var.initial.strip())
        for var in state.variables
        if var.role == "exogenous" and var.initial.strip()
    ]


PASS = Pass(name="draws_from_exogenous", run=run, kind="build")
