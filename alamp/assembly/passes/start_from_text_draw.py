"""Repair: a state variable the text draws at random (``h ~ U(150, 250)``) starts at that draw, not at a point of it.

Reads ``state_vars`` and ``text_draws`` (the draws the description writes as formulas, ``alamp.text_step``: name ->
``uniform(150, 250)``). Where the text draws a state variable by its name or symbol, or by that name with the
subscript ``_0`` (``v_0 ~ U(18, 32)``: the start of ``v``), with ``uniform`` or ``integers``, and the variable's start
is empty or a number inside that range, the start becomes the draw. The small model copies one end of the range as
the start, and every episode then begins in the same state.

Origin: lunar_descent (dev, session 13): "initial: h ~ U(150, 250), v ~ U(-10, -5)" became the starts 150 and -10
in every run.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.passes.start_range_from_text import point_start_inside
from alamp.assembly.state import AssemblyState
from alamp.schema import Variable
from alamp.schema._names import to_identifier

_RANGE_DRAW = re.compile(r"^(uniform|integers)\(\s*(-?[\d.]+(?:[eE]-?\d+)?)\s*,\s*(-?[\d.]+(?:[eE]-?\d+)?)\s*\)$")


def _names(var: Variable) -> list[str]:
    names = [var.name]
    if var.symbol:
        try:
            names.append(to_identifier(var.symbol))
        except ValueError:
            pass
    return [*names, *(f"{n}_0" for n in names)]


def run(state: AssemblyState) -> None:
    for var in state.state_vars:
        for name in _names(var):
            match = _RANGE_DRAW.match((state.text_draws.get(name) or "").strip())
            if match is None:
                continue
            low, high = float(match.group(2)), float(match.group(3))
            if low < high and point_start_inside(var, low, high):
                draw = match.group(0)
                state.fire(
                    f"state {var.name!r}: the text draws {name} ~ {draw}; it starts there, not at "
                    f"{var.initial.strip() or 'nothing'!r}"
                )
                var.initial = draw
            break


PASS = Pass(
    name="start_from_text_draw",
    run=run,
    kind="repair",
    origin="lunar_descent (dev, session 13): 'h ~ U(150, 250), v ~ U(-10, -5)' became the starts 150 and -10",
    note_pattern=re.compile(r"^state '[^']*': the text draws "),
)
