"""Repair: when the text says nothing ends an episode early, no termination condition is kept.

Reads ``text_no_early_end`` (``alamp.assembly.says_no_early_end``: "Nothing stops a run early", "nothing ends it
sooner", "with no early termination") and clears ``terminated``; the episode then ends only at its time limit. The
Constraint agent files the text's bounds and clamps as terminations (``angle >= 3.14`` for an angle the text wraps into
[-pi, pi); ``theta_dot >= -1`` from the start range), and a run that ends on the first step teaches a policy nothing.

Origin: pendulum_swingup and pendulum_balance (dev, session 14). Both texts say no run ends early; the runs ended
when ``theta_dot`` left the start range [-1, 1] (termination fidelity 0.00) or the wrapped angle reached ±3.14 (0.52).
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    if not state.text_no_early_end or not state.terminated:
        return
    dropped = ", ".join(repr(t) for t in state.terminated)
    state.terminated = []
    state.fire(f"the text says nothing ends an episode early; dropped the termination conditions {dropped}")


PASS = Pass(
    name="no_termination_as_text_says",
    run=run,
    kind="repair",
    origin="pendulum_swingup, pendulum_balance (dev, session 14): bounds and start ranges filed as terminations",
    note_pattern=re.compile(r"^the text says nothing ends an episode early; dropped"),
)
