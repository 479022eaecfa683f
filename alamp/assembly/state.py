"""The explicit state every assembly pass reads and rewrites."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from alamp.assembly.names import rename, reserved_names
from alamp.schema import (
    ActionSpec,
    Assignment,
    Constraint,
    EnvSpec,
    MDPModel,
    Objective,
    Parameter,
    RandomDraw,
    SARSpec,
    StateVariable,
    Variable,
)

__all__ = ["AssemblyState"]


@dataclass
class AssemblyState:
    """The agents' outputs (inputs, never changed) and the spec being built from them.

    The build passes fill the pieces in order (``state_vars`` -> ``constants`` -> ``state`` -> ``draws`` ->
    ``actions`` -> ``shared`` -> ``reward``/``terminated``/``observation``/``max_steps`` -> ``spec``); the repair
    passes rewrite them in between. A pass records each change with :meth:`fire`, so the notes and the fire counts
    never disagree.

    Attributes:
        parameters: The Parameter agent's output (list-valued ones are replaced by their elements in place).
        variables: The Variable agent's output.
        constraints: The Constraint agent's output.
        mdp: The Modeling agent's output.
        sar: The SAR agent's output.
        updates: The Env agent's update equations, as written.
        name: Task name for the gymnasium id.
        clip_state: Clip state variables with two finite bounds to them after every step.
        unbounded: Bound used where a variable states none.
        text_constants: Names the description defines with one number.
        text_action_symbols: Symbols the description says stand for the chosen action.
        text_formulas: Names the description defines by a formula.
        text_random_ranges: Ranges the description says a quantity is drawn uniformly from.
        text_draws: Draws the description writes as formulas (name -> ``uniform(150, 250)``).
        text_no_early_end: The description says nothing ends an episode before its time limit.
        text_reward: The reward the description writes as a formula, or None.
        text_action_effects: Each listed action's effect as the description states it (``u = -5``), in order.
        objectives: The Objective agent's output (which way each goal points).
        state_vars: The state variables as the Variable agent gave them (copies; passes may change bounds/start).
        constants: Name -> value.
        state: The spec's state variables.
        draws: The spec's random draws.
        actions: The spec's actions with their updates.
        action_prose: Per action index, the pieces of its effect that were not assignments.
        shared: The updates every action shares, in order.
        reward: The reward expression.
        terminated: The termination conditions.
        observation: The observation expressions.
        max_steps: The episode length.
        spec: The validated spec, once built.
        set_by_actions: States an action sets through a next-value name (``x_next = ...``): already at their next
            value when the shared updates run.
        notes: One line per change, in order.
        fired: Pass name -> number of changes it made.
        current_pass: The name of the pass running now (set by the driver).
    """

    parameters: list[Parameter]
    variables: list[Variable]
    constraints: list[Constraint]
    mdp: MDPModel
    sar: SARSpec
    updates: list[Assignment]
    name: str | None
    clip_state: bool
    unbounded: float
    text_constants: Mapping[str, float]
    text_action_symbols: Collection[str]
    text_formulas: Mapping[str, str]
    text_random_ranges: Sequence[tuple[float, float]] = ()
    text_draws: Mapping[str, str] = field(default_factory=dict)
    text_no_early_end: bool = False
    text_reward: str | None = None
    text_action_effects: Sequence[str] = ()
    objectives: Sequence[Objective] = ()
    state_vars: list[Variable] = field(default_factory=list)
    constants: dict[str, float] = field(default_factory=dict)
    state: list[StateVariable] = field(default_factory=list)
    draws: list[RandomDraw] = field(default_factory=list)
    actions: list[ActionSpec] = field(default_factory=list)
    action_prose: dict[int, list[str]] = field(default_factory=dict)
    shared: list[Assignment] = field(default_factory=list)
    reward: str = ""
    terminated: list[str] = field(default_factory=list)
    observation: list[str] = field(default_factory=list)
    max_steps: int = 0
    spec: EnvSpec | None = None
    set_by_actions: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    fired: dict[str, int] = field(default_factory=dict)
    current_pass: str = ""

    def fire(self, note: str | None = None) -> None:
        """Record one change by the running pass, with its note (``None``: a change that writes no note)."""
        self.fired[self.current_pass] = self.fired.get(self.current_pass, 0) + 1
        if note is not None:
            self.notes.append(note)

    def note(self, note: str) -> None:
        """Record a note that reports no change (e.g. a default kept because the model's value is unusable)."""
        self.notes.append(note)

    @property
    def state_names(self) -> set[str]:
        """The names of the state variables the agents gave (not those assembly adds at the end)."""
        return {v.name for v in self.state_vars}

    @property
    def action_targets(self) -> set[str]:
        """Every name an action's updates assign."""
        return {u.target for a in self.actions for u in a.updates}

    @property
    def shared_targets(self) -> set[str]:
        """Every name the shared updates assign."""
        return {u.target for u in self.shared}

    def defined(self, *, reserved: bool = False) -> set[str]:
        """Every name the spec defines so far: constants, states, draws, update targets (and reserved names)."""
        names = set(self.constants) | self.state_names | {d.name for d in self.draws}
        names |= self.shared_targets | self.action_targets
        return names | reserved_names() if reserved else names

    def rename(self, mapping: dict[str, str]) -> None:
        """Rename names everywhere they are assigned or read: the actions' and shared updates, the reward, the
        termination conditions and the observation (constants and states keep their names)."""

        def renamed(updates: list[Assignment]) -> list[Assignment]:
            return [Assignment(target=mapping.get(u.target, u.target), expr=rename(u.expr, mapping)) for u in updates]

        for action in self.actions:
            action.updates = renamed(action.updates)
        self.shared = renamed(self.shared)
        self.reward = rename(self.reward, mapping)
        self.terminated = [rename(t, mapping) for t in self.terminated]
        self.observation = [rename(o, mapping) for o in self.observation]

    def expressions(self) -> list[str]:
        """The reward, the termination conditions and the observation (evaluated after the updates)."""
        return [self.reward, *self.terminated, *self.observation]
