"""Repair: a termination condition that holds at every start state is the allowed range; it is negated.

Reads and rewrites ``spec.terminated`` (on the built spec: each condition is probed alone on a copy in which nothing
moves, over 16 start states). The small model often lists the *allowed* ranges as termination conditions
(``theta >= -0.2095`` for "ends beyond ±0.2095"); such a condition ends every episode at its first step, which no
description means. A condition that cannot be probed this way (it names an intermediate or a draw) is kept.

Origin: commit 526990d ("seen on cartpole: every episode ended at step 1"). Only known origin: a test task.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.passes.float_equality_as_reaching import START_PROBES
from alamp.assembly.state import AssemblyState
from alamp.schema import EnvSpec


def invert_start_true_terminations(spec: EnvSpec) -> tuple[EnvSpec, list[str]]:
    """Negate termination conditions that hold at every start state (``theta >= -0.2095`` for "ends beyond ±0.2095").

    The small model often lists the *allowed* ranges as termination conditions. Such a condition ends every episode
    at its first step, which no description means. Each condition is probed alone on a copy of the spec in which
    nothing moves (no draws, no updates): after one step the state is the start state, so ``terminated`` says
    whether the condition holds there. A condition that cannot be probed this way (it names an intermediate or a
    draw) is left as it is.
    """
    from alamp.spec import SpecError, compile_spec

    inverted: list[str] = []
    conditions = list(spec.terminated)
    for index, condition in enumerate(conditions):
        try:
            probe = EnvSpec.model_validate(
                spec.model_dump() | {"actions": [{"name": a.name} for a in spec.actions], "updates": [], "draws": [],
                                     "terminated": [condition], "reward": "0", "observation": []}
            )  # fmt: skip
            env = compile_spec(probe).make_env()
            ends_at_start = all(_ends_at_once(env, seed) for seed in range(START_PROBES))
        except (SpecError, ValidationError, ValueError, ArithmeticError):
            continue  # names an intermediate or a draw, or fails numerically: not probed
        if ends_at_start:
            conditions[index] = f"not ({condition})"
            inverted.append(condition)
    if not inverted:
        return spec, []
    return EnvSpec.model_validate(spec.model_dump() | {"terminated": conditions}), inverted


def _ends_at_once(env: Any, seed: int) -> bool:
    env.reset(seed=seed)
    return bool(env.step(0)[2])


def run(state: AssemblyState) -> None:
    if state.spec is None:  # nothing built (a pass list without build_spec): nothing to rewrite
        return
    state.spec, inverted = invert_start_true_terminations(state.spec)
    for cond in inverted:
        state.fire(
            f"termination condition {cond!r} holds at every start state, so every episode would end at its first "
            f"step: read as the condition for going on (the model wrote the allowed range), i.e. ended when not "
            f"({cond})"
        )


PASS = Pass(
    name="start_true_termination_negated",
    run=run,
    kind="repair",
    origin="526990d: cartpole (every episode ended at step 1)",
    origin_is_test_task=True,
    note_pattern=re.compile(r"^termination condition .* holds at every start state"),
)
