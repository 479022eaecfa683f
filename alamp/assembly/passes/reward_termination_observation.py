"""Build: reward, termination, observation and episode length from the SAR agent, constraints and MDP.

Reads ``sar`` (reward, observations), ``constraints`` (those of kind ``termination``: the conditions that END the
episode) and ``mdp.horizon``; writes ``reward``, ``terminated`` (without repeats), ``observation`` and ``max_steps``.
"""

from __future__ import annotations

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState


def run(state: AssemblyState) -> None:
    state.reward = state.sar.reward
    conditions = [c.expression for c in state.constraints if c.kind == "termination" and c.expression.strip()]
    state.terminated = list(dict.fromkeys(conditions))
    state.observation = list(state.sar.observations)
    state.max_steps = state.mdp.horizon


PASS = Pass(name="reward_termination_observation", run=run, kind="build")
