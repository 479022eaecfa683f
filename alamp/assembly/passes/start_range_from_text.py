"""Repair: bounds equal to a range the text draws a quantity from, on a variable with no random start, are that start.

Reads ``state_vars`` and ``text_random_ranges`` (the ranges the description says a quantity is drawn uniformly from,
``alamp.description.random_ranges_in_text``). Where a state variable's ``[low, high]`` is exactly such a range and
its start is empty or a number inside it, the start becomes ``uniform(low, high)``; ``start_range_not_bounds``, which
runs next, then leaves the variable unbounded. The small model puts the start range where the bounds go and leaves
the start empty, and the state is then clipped to its start range for the whole episode.

Origin: positioning_stage (dev, session 13): "a position drawn uniformly from [-0.1, 0.1] m" became the bounds of
``x`` with no start, so every candidate held the carriage within 0.1 m of the spring's rest point (the text's own
update lines, copied exactly, agreed with the reference on 3% of steps).
"""

from __future__ import annotations

import math
import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Variable


def point_start_inside(var: Variable, low: float, high: float) -> bool:
    """An empty start, or a plain number in ``[low, high]`` (a point start the model took from the range)."""
    text = (var.initial or "").strip()
    if not text:
        return True
    try:
        value = float(text)
    except ValueError:
        return False
    return low <= value <= high


def run(state: AssemblyState) -> None:
    for var in state.state_vars:
        if var.low is None or var.high is None or not (math.isfinite(var.low) and math.isfinite(var.high)):
            continue
        for low, high in state.text_random_ranges:
            # rel_tol: a bound of pi is written 3.14 or 3.14159 (pendulum_swingup, dev)
            close = math.isclose(var.low, low, rel_tol=1e-3) and math.isclose(var.high, high, rel_tol=1e-3)
            if close and point_start_inside(var, low, high):
                start = f"uniform({low:g}, {high:g})"
                state.fire(
                    f"state {var.name!r}: bounds [{var.low:g}, {var.high:g}] are a range the text draws from and its "
                    f"start was {var.initial.strip() or 'empty'!r}; it starts at {start}"
                )
                var.initial = start
                break


PASS = Pass(
    name="start_range_from_text",
    run=run,
    kind="repair",
    origin="positioning_stage (dev, session 13): the start range [-0.1, 0.1] given as x's bounds, with no start",
    note_pattern=re.compile(r"^state '[^']*': bounds .* are a range the text draws from"),
)
