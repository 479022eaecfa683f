"""Repair: a list-valued parameter becomes indexed scalar constants (``loc = [2, 3]`` -> ``loc_0``, ``loc_1``).

Reads ``parameters``; replaces each list-valued one by one scalar parameter per element in row-major order, plus
``name_x``/``name_y`` for a flat pair when those names are free (see :func:`alamp.assembly.expand_parameters`). The
expression language has no subscripts; the Env agent is shown the same scalar names, so its updates read them.

Origin: commit a3f4774, "each from a real failure of the embedded model on seed 0 (wireless, mountain_car, drone)":
the drone task's building locations. Only known origin: a test task.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.parameters import expand_parameters
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    # The same reserved names as the Env agent's listing of constants uses, so both show the same aliases.
    reserved = {v.name for v in state.variables} | set(state.mdp.states)
    state.parameters, notes = expand_parameters(parameters=state.parameters, reserved=reserved)
    for note in notes:
        state.fire(note)


PASS = Pass(
    name="list_parameters_as_constants",
    run=run,
    kind="repair",
    origin="a3f4774: drone seed 0 (list-valued building locations)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^parameter '[^']*' is a list; its elements are the constants"),
)
