"""``assemble``: run the passes over the agents' outputs."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.passes import PASSES
from alamp.assembly.result import Assembly
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment, Constraint, MDPModel, Objective, Parameter, SARSpec, Variable

__all__ = ["assemble"]


def assemble(
    *,
    parameters: list[Parameter],
    variables: list[Variable],
    constraints: list[Constraint],
    mdp: MDPModel,
    sar: SARSpec,
    updates: list[Assignment],
    name: str | None = None,
    clip_state: bool = True,
    unbounded: float = math.inf,
    text_constants: Mapping[str, float] | None = None,
    text_action_symbols: Collection[str] = (),
    text_formulas: Mapping[str, str] | None = None,
    text_random_ranges: Sequence[tuple[float, float]] = (),
    text_draws: Mapping[str, str] | None = None,
    text_no_early_end: bool = False,
    text_reward: str | None = None,
    text_action_effects: Sequence[str] = (),
    objectives: Sequence[Objective] = (),
    passes: Sequence[Pass] = PASSES,
) -> Assembly:
    """Build an ``EnvSpec`` from the agents' outputs by running the assembly passes in order.

    Args:
        parameters: Parameter agent output (become constants).
        variables: Variable agent output (state variables, exogenous draws).
        constraints: Constraint agent output (termination conditions).
        mdp: Modeling agent output (horizon; fallback termination and state names).
        sar: SAR agent output (observation, actions with effects, reward).
        updates: Env agent output (the ordered update equations).
        name: Task name for the gymnasium id.
        clip_state: Clip state variables with two finite bounds to them after every step.
        unbounded: Bound used where a variable states none.
        text_constants: Definitions the description states literally (``M = 1.1 kg``; see
            :func:`alamp.assembly.constants_in_text`): one becomes a constant when an expression reads that name and
            nothing else defines it (the Parameter agent missed it).
        text_action_symbols: Symbols the description says stand for the chosen action's index ("where a is 0, 1
            or 2 for the chosen action"; see :func:`alamp.assembly.action_symbols_in_text`): read as the built-in
            ``action``.
        text_formulas: Names the description defines by a formula (see :func:`alamp.assembly.formulas_in_text`):
            a name read but defined nowhere gets its formula as an update before its first reader (with the formulas
            it needs).
        text_random_ranges: Ranges the description says a quantity is drawn uniformly from (see
            :func:`alamp.description.random_ranges_in_text`): bounds equal to one, on a variable with no random
            start, are its start.
        text_draws: Draws the description writes as formulas (``h ~ U(150, 250)``; see
            :func:`alamp.text_step.read_text_step`): a state variable drawn this way starts at its draw.
        text_no_early_end: The description says nothing ends an episode before its time limit ("Nothing stops a
            run early"; see :func:`alamp.assembly.says_no_early_end`): no termination condition is kept.
        text_reward: The reward the description writes as a formula ("the reward is -c"; see
            :func:`alamp.description.reward_in_text`): it replaces the SAR agent's when every name it reads is defined.
        text_action_effects: Each listed action's effect as the description states it ("push left (u = -5 N)"; see
            :func:`alamp.description.action_effects_in_text`): action i takes the i-th.
        objectives: Objective agent output (a reward that copies a minimised cost gets its sign from it).
        passes: The passes to run, in order (default :data:`alamp.assembly.PASSES`; a subset shows what one rule
            changes, e.g. in a test or an ablation).

    Returns:
        The spec, the notes on what was normalised, and how often each pass fired.

    Raises:
        AssemblyError: If no valid spec can be built (the problems say why).
    """
    state = AssemblyState(
        parameters=list(parameters),
        variables=list(variables),
        constraints=list(constraints),
        mdp=mdp,
        sar=sar,
        updates=list(updates),
        name=name,
        clip_state=clip_state,
        unbounded=unbounded,
        text_constants=text_constants or {},
        text_action_symbols=text_action_symbols,
        text_formulas=text_formulas or {},
        text_random_ranges=tuple(text_random_ranges),
        text_draws=dict(text_draws or {}),
        text_no_early_end=text_no_early_end,
        text_reward=text_reward,
        text_action_effects=tuple(text_action_effects),
        objectives=tuple(objectives),
    )
    for step in passes:
        state.current_pass = step.name
        step.run(state)
    if state.spec is None:
        raise ValueError(f"the passes {[p.name for p in passes]} include no 'build_spec': nothing was assembled")
    return Assembly(spec=state.spec, notes=state.notes, fired=state.fired)
