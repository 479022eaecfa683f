"""Repair: a reward that is exactly a cost the Objective agent says to minimise is that cost with a minus sign.

Reads ``objectives`` and ``sar.reward``; where the SAR agent's reward is the same expression as an objective whose
sense is ``min`` (compared as parsed expressions), the reward becomes ``-(reward)``. The controller maximises its
reward, so a cost copied as the reward trains a policy to maximise the cost; the Objective agent, which reads the
goal, said which way it points.

Origin: positioning_stage, elevator and bike_rebalancing (dev): the objective "min charge_per_tick * abs(x -
goal_position)" (and the waiting and empty-dock costs) copied as the reward with no sign, in 4 of 21 dev runs.
"""

from __future__ import annotations

import ast
import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def _parsed(expression: str) -> str | None:
    try:
        return ast.dump(ast.parse(expression.strip(), mode="eval"))
    except (SyntaxError, ValueError):
        return None


def run(state: AssemblyState) -> None:
    if state.reward != state.sar.reward or not state.reward.strip():
        return  # the reward was replaced by another pass (an update named reward): not the SAR agent's copy
    reward = _parsed(state.reward)
    if reward is None:
        return
    for objective in state.objectives:
        if objective.sense == "min" and objective.expression and _parsed(objective.expression) == reward:
            state.fire(
                f"reward {state.reward!r} is the objective {objective.name!r}, which is minimised; the reward is "
                "its negative (a policy maximises its reward)"
            )
            state.reward = f"-({state.reward})"
            return


PASS = Pass(
    name="reward_sign_from_objective",
    run=run,
    kind="repair",
    origin="positioning_stage, elevator, bike_rebalancing (dev, session 13): a minimised cost copied as the reward",
    note_pattern=re.compile(r"^reward '.*' is the objective '[^']*', which is minimised"),
)
