"""Build the environment spec from the upstream agents' typed outputs.

The embedded 1.5B model writes a whole spec badly in one shot (actions written as state changes, bounds copied
from the start range, undefined names), but it fills small typed lists well. So the Env agent writes only the
ordered update equations, and everything else is assembled here, deterministically:

- constants      <- parameters
- state          <- variables with role ``state`` (bounds, initial value or distribution)
- draws          <- variables with role ``exogenous`` whose ``initial`` is a distribution, e.g. ``poisson(lam)``
- actions        <- SAR actions, their effects parsed as assignments (``force = -force_mag``, ``y += 1``)
- observation    <- SAR observations
- reward         <- SAR reward (or an update named ``reward``)
- terminated     <- constraints of kind ``termination`` (the condition that ENDS the episode), else the MDP's
- max_steps      <- MDP horizon

Normalisation is forgiving where the meaning is unambiguous, and every normalisation is recorded in
``Assembly.notes`` so that a run directory shows what was changed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from alamp.schema import (
    ActionSpec,
    Assignment,
    Constraint,
    EnvSpec,
    MDPModel,
    Parameter,
    RandomDraw,
    SARSpec,
    StateVariable,
    Variable,
)
from alamp.schema._names import to_identifier

__all__ = ["Assembly", "AssemblyError", "assemble", "parse_assignments", "env_id_for"]

_ASSIGN = re.compile(r"^\s*([A-Za-z_][\w']*)\s*([-+*/]?)=(?!=)\s*(.+?)\s*$", re.S)
_NEXT_SUFFIXES = ("_next", "_new", "_prime", "_t1", "_tp1", "_plus")
_REWARD_NAMES = {"reward", "r"}
_DONE_NAMES = {"terminated", "done"}


class AssemblyError(ValueError):
    """The upstream outputs cannot make an environment spec; ``problems`` says why, one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass
class Assembly:
    """The assembled spec and the normalisations applied on the way."""

    spec: EnvSpec
    notes: list[str] = field(default_factory=list)


def env_id_for(name: str | None) -> str:
    """A gymnasium id for a task (``alamp/<name>-v0``), safe for gymnasium's id pattern."""
    base = to_identifier(name) if name else "Generated"
    return f"alamp/{base}-v0"


def _split_top_level(text: str) -> list[str]:
    """Split on ``;``, newlines and commas that are not inside brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if depth == 0 and ch in ";\n,":
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_assignments(text: str) -> tuple[list[Assignment], list[str]]:
    """Parse an action effect such as ``force = -force_mag`` or ``y += 1; x = x - 1`` into assignments.

    Args:
        text: The effect as the SAR agent wrote it.

    Returns:
        The assignments, and the pieces that were not assignments (prose; ignored).
    """
    assignments: list[Assignment] = []
    ignored: list[str] = []
    pieces = _split_top_level(text)
    merged: list[str] = []
    for piece in pieces:
        # A comma inside an expression without brackets ("x = a, b") is not a new assignment: keep it together.
        if merged and not _ASSIGN.match(piece) and _ASSIGN.match(merged[-1]):
            ignored.append(piece)
            continue
        merged.append(piece)
    for piece in merged:
        match = _ASSIGN.match(piece)
        if not match:
            ignored.append(piece)
            continue
        target, op, expr = match.group(1), match.group(2), match.group(3)
        target = to_identifier(target)
        expr = expr.rstrip(".")
        if op:
            expr = f"{target} {op} ({expr})"
        assignments.append(Assignment(target=target, expr=expr))
    return assignments, ignored


_UNIFORM = re.compile(r"^\s*(?:np\.random\.|random\.)?uniform\(\s*([-+.\deE]+)\s*,\s*([-+.\deE]+)\s*\)\s*$")


def _bounds_are_start_range(var: Variable) -> bool:
    """``low``/``high`` equal to the ``uniform(a, b)`` start range: the start range copied into the bounds.

    The small model does this often; a state confined to its start range is never what a description means.
    """
    match = _UNIFORM.match(var.initial or "")
    if not match or var.low is None or var.high is None or var.low == var.high:
        return False
    try:
        start_low, start_high = float(match.group(1)), float(match.group(2))
    except ValueError:
        return False
    return math.isclose(var.low, start_low) and math.isclose(var.high, start_high)


def _strip_statement(update: Assignment) -> tuple[Assignment, str | None]:
    """``target: "x_next = x + 1"`` (a statement where an expression was asked) -> ``target: "x + 1"``.

    Only when the assigned name is the target itself or its next-value form (``x_next``, ``x_new``, ``x'``):
    then the meaning is unambiguous.
    """
    match = _ASSIGN.match(update.expr)
    if not match or match.group(2):
        return update, None
    name = to_identifier(match.group(1))
    forms = {update.target, *(update.target + s for s in _NEXT_SUFFIXES)}
    if name not in forms:
        return update, None
    fixed = Assignment(target=update.target, expr=match.group(3))
    return fixed, f"update {update.target!r}: read {update.expr!r} as the expression {fixed.expr!r}"


def _finite(value: float | None, default: float) -> float:
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _next_state_updates(updates: list[Assignment], state_names: set[str], known: set[str]) -> tuple[
    list[Assignment], list[str]
]:
    """``x_next = ...`` written for state ``x``: keep it as an intermediate and append ``x = x_next`` at the end.

    This keeps the meaning exactly (every ``*_next`` equation still sees the old values).
    """
    notes: list[str] = []
    tail: list[Assignment] = []
    assigned = {u.target for u in updates}
    for update in updates:
        for suffix in _NEXT_SUFFIXES:
            base = update.target[: -len(suffix)] if update.target.endswith(suffix) else None
            if base and base in state_names and update.target not in known and base not in assigned:
                tail.append(Assignment(target=base, expr=update.target))
                notes.append(f"update {update.target!r} read as the next value of state {base!r}")
                break
    return updates + tail, notes


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
) -> Assembly:
    """Build an ``EnvSpec`` from the agents' outputs.

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

    Returns:
        The spec and the notes on what was normalised.

    Raises:
        AssemblyError: If no valid spec can be built (the problems say why).
    """
    notes: list[str] = []
    state_vars = [v.model_copy() for v in variables if v.role == "state"]
    if not state_vars:
        state_vars = [Variable(name=s, role="state") for s in mdp.states]
        notes.append("no variable has role 'state'; used the MDP's state names with no bounds and start 0")
    state_names = {v.name for v in state_vars}

    constants: dict[str, float] = {}
    for param in parameters:
        if param.name in state_names:
            var = next(v for v in state_vars if v.name == param.name)
            if not var.initial.strip():
                var.initial = repr(param.value)
            notes.append(f"parameter {param.name!r} is also a state variable; used it as the start value only")
            continue
        constants[param.name] = param.value
    # Equations in the text use symbols (M, τ, m·l); the Env agent copies them. A parameter's symbol becomes an
    # alias constant when it names nothing else, so `M` and `total_mass` both resolve.
    for param in parameters:
        if not param.symbol.strip() or param.name not in constants:
            continue
        try:
            alias = to_identifier(param.symbol)
        except ValueError:
            continue
        if alias != param.name and alias not in constants and alias not in state_names:
            constants[alias] = param.value
            notes.append(f"parameter {param.name!r}: its symbol {param.symbol!r} is also usable as {alias!r}")

    state: list[StateVariable] = []
    for var in state_vars:
        if _bounds_are_start_range(var):
            notes.append(f"state {var.name!r}: bounds [{var.low}, {var.high}] equal its start range "
                         f"{var.initial}; read as a start range only, the variable is left unbounded")
            var.low, var.high = None, None
        low = _finite(var.low, -unbounded)
        high = _finite(var.high, unbounded)
        bounded = math.isfinite(low) and math.isfinite(high)
        state.append(
            StateVariable(
                name=var.name,
                low=low,
                high=high,
                init=var.initial.strip() or "0",
                clip=clip_state and bounded,
                description=var.description,
            )
        )

    draws: list[RandomDraw] = []
    for var in variables:
        if var.role == "exogenous" and var.initial.strip():
            draws.append(RandomDraw(name=var.name, expr=var.initial.strip()))

    actions: list[ActionSpec] = []
    for action in sar.actions:
        action_updates, ignored = parse_assignments(action.effect)
        if ignored:
            notes.append(f"action {action.name!r}: ignored non-assignment text {ignored}")
        actions.append(ActionSpec(name=action.name, updates=action_updates, description=action.effect))

    known = set(constants) | state_names | {d.name for d in draws}
    known |= {u.target for a in actions for u in a.updates}
    cleaned: list[Assignment] = []
    for update in updates:
        fixed, note = _strip_statement(update)
        cleaned.append(fixed)
        if note:
            notes.append(note)
    shared, next_notes = _next_state_updates(cleaned, state_names, known)
    notes += next_notes

    reward = sar.reward
    targets = {u.target for u in shared}
    reward_target = next((t for t in targets if t in _REWARD_NAMES), None)
    if reward_target:
        reward = reward_target
        notes.append(f"reward taken from the update {reward_target!r}")

    terminated = [c.expression for c in constraints if c.kind == "termination" and c.expression.strip()]
    if not terminated:
        terminated = [t for t in mdp.termination if t.strip()]
        if terminated:
            notes.append("no termination constraint; used the MDP's termination conditions")
    terminated += [t for t in targets if t in _DONE_NAMES]
    terminated = list(dict.fromkeys(terminated))

    try:
        spec = EnvSpec(
            id=env_id_for(name),
            constants=constants,
            state=state,
            draws=draws,
            actions=actions,
            updates=shared,
            reward=reward,
            terminated=terminated,
            max_steps=mdp.horizon,
            observation=list(sar.observations),
        )
    except ValidationError as exc:
        raise AssemblyError([err["msg"] for err in exc.errors()]) from exc
    return Assembly(spec=spec, notes=notes)
