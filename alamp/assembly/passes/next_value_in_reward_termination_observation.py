"""Repair: ``x_next`` (``x_new``, ``queue_next_1``, ...) in the reward, termination or observation reads as ``x``.

Reads and rewrites ``reward``, ``terminated`` and ``observation``, where ``x_next`` names the next value of state
``x`` and nothing defines it. They are evaluated after the updates, so ``x`` already holds the next value.

Origin: commit a3f4774, "each from a real failure of the embedded model on seed 0 (wireless, mountain_car,
drone)"; indexed names from commit c307dd3 (wireless seed 2). Only known origin: test tasks.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import next_value_names, rename
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    mapping = next_value_names(state.expressions(), state.state_names, state.defined())
    if not mapping:
        return
    state.reward = rename(state.reward, mapping)
    state.terminated = [rename(t, mapping) for t in state.terminated]
    state.observation = [rename(t, mapping) for t in state.observation]
    for alias, base in sorted(mapping.items()):
        state.fire(
            f"{alias!r} in the reward, termination or observation read as state {base!r}: they are "
            "evaluated after the updates, so it already holds the next value"
        )


PASS = Pass(
    name="next_value_in_reward_termination_observation",
    run=run,
    kind="repair",
    origin="a3f4774: wireless seed 0 (user1_queue_next in the reward); c307dd3: wireless seed 2",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^'[^']*' in the reward, termination or observation read as state"),
)
