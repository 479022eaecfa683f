"""Repair: an update named ``reward`` (or ``r``) is the reward.

Reads ``shared``; sets ``reward`` to that name. The Env agent computes the reward among its updates although the
SAR agent states it; the update is the one that reads the updated values the way the Env agent meant.

Origin: the first version of assembly (commit 03a1b82), written without a recorded failure.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState

REWARD_NAMES = ("reward", "r")


def run(state: AssemblyState) -> None:
    target = next((t for t in REWARD_NAMES if t in state.shared_targets), None)
    if target:
        state.reward = target
        state.fire(f"reward taken from the update {target!r}")


PASS = Pass(
    name="reward_from_update",
    run=run,
    kind="repair",
    origin="first version of assembly (03a1b82), no recorded failure",
    note_pattern=re.compile(r"^reward taken from the update"),
)
