"""Build: the spec's state variables, with bounds, start value or distribution, and whether they are clipped.

Reads ``state_vars``, ``clip_state`` and ``unbounded``; writes ``state``. A missing bound is ``unbounded``; a
variable is clipped to its bounds after every step only when both are finite (and ``clip_state`` is on); a missing
start is 0.
"""

from __future__ import annotations

import math

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import StateVariable


def _finite(value: float | None, default: float) -> float:
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def run(state: AssemblyState) -> None:
    state.state = []
    for var in state.state_vars:
        low = _finite(var.low, -state.unbounded)
        high = _finite(var.high, state.unbounded)
        bounded = math.isfinite(low) and math.isfinite(high)
        state.state.append(
            StateVariable(
                name=var.name,
                low=low,
                high=high,
                init=var.initial.strip() or "0",
                clip=state.clip_state and bounded,
                description=var.description,
            )
        )


PASS = Pass(name="state_from_variables", run=run, kind="build")
