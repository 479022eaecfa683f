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
``Assembly.notes`` so that a run directory shows what was changed. Among them:

- a list-valued parameter becomes indexed constants (``loc = [2, 3]`` -> ``loc_0``, ``loc_1``, and ``loc_x``,
  ``loc_y`` when free), see :func:`expand_parameters`;
- identity updates (``x = x``) are dropped: they do nothing, even when ``x`` is a constant;
- an action's name used as a value in an update, the reward or a termination condition
  (``force = F * (push_right - push_left)``) becomes an indicator action variable: 1 for that action, 0 for the
  others;
- ``x_next`` (``x_new``, ...) for state ``x`` in the reward, termination or observation, where ``x_next`` is not
  defined, reads as ``x``: those are evaluated after the updates, so ``x`` already holds the next value.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
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
from alamp.schema._names import NEXT_VALUE_SUFFIXES, to_identifier

__all__ = [
    "Assembly",
    "AssemblyError",
    "action_symbols_in_text",
    "assemble",
    "constants_in_text",
    "expand_parameters",
    "parse_assignments",
    "env_id_for",
]

_ASSIGN = re.compile(r"^\s*([A-Za-z_][\w']*)\s*([-+*/]?)=(?!=)\s*(.+?)\s*$", re.S)
_REWARD_NAMES = {"reward", "r"}
# A whole identifier that is read as a value: not a function called (``min(``), a keyword argument or an assignment
# target (``low=``), nor an attribute (``np.x``). The lookbehind and the greedy ``\w*`` ending at ``\b`` make it
# match only complete identifiers, never part of a longer one.
_READ_NAME = re.compile(r"(?<![\w.])[^\W\d]\w*\b(?!\s*(?:=(?!=)|\())")
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
    forms = {update.target, *(update.target + s for s in NEXT_VALUE_SUFFIXES)}
    if name not in forms:
        return update, None
    fixed = Assignment(target=update.target, expr=match.group(3))
    return fixed, f"update {update.target!r}: read {update.expr!r} as the expression {fixed.expr!r}"


def _names_in(text: str) -> set[str]:
    """The whole names an expression reads as values: ``{"x", "x_max"}`` for ``x + cos(x_max)``."""
    return set(_READ_NAME.findall(text))


def _names_read(shared: list[Assignment], actions: list[ActionSpec], others: list[str]) -> set[str]:
    """The names read by the shared updates, every action's updates and the ``others`` expressions."""
    texts = [u.expr for u in shared] + [u.expr for a in actions for u in a.updates] + others
    return set().union(*(_names_in(t) for t in texts))


def _rename(text: str, mapping: dict[str, str]) -> str:
    """Replace whole identifiers that are read (``x_next`` but not ``x_next_max``) as ``mapping`` says."""
    return _READ_NAME.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def _is_identity(update: Assignment) -> bool:
    """``x = x`` (also ``x = (x)``): an update that changes nothing."""
    expr = update.expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1].strip()
    return expr == update.target


def _flatten(value: float | list[Any], path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], float]]:
    """Row-major ``(index path, number)`` pairs of a (possibly nested) list of numbers."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _flatten(item, (*path, i))
    else:
        yield path, float(value)


def expand_parameters(
    *, parameters: Sequence[Parameter], reserved: Iterable[str] = ()
) -> tuple[list[Parameter], list[str]]:
    """Replace every list-valued parameter by scalar parameters, one per element, in row-major order.

    ``building_locations = [[1, 1], [1, 3]]`` becomes ``building_locations_0_0 = 1.0``, ...,
    ``building_locations_1_1 = 3.0``; a flat list gives ``name_0``, ``name_1``, .... A flat list of two numbers is
    usually a point, so it also gets ``name_x`` and ``name_y`` when those names are free. Scalar parameters are
    kept as they are, and an element name that a scalar parameter already has is left to that parameter.

    Args:
        parameters: The Parameter agent's output.
        reserved: Names taken elsewhere (e.g. variables); ``_x``/``_y`` aliases never take one.

    Returns:
        The scalar parameters (what the Env agent should be shown as constants), and one note per expanded list.
    """
    taken = {p.name for p in parameters if not isinstance(p.value, list)}
    blocked = set(reserved)
    out: list[Parameter] = []
    notes: list[str] = []
    for param in parameters:
        if not isinstance(param.value, list):
            out.append(param)
            continue
        elements = list(_flatten(param.value))
        made: list[str] = []
        skipped: list[str] = []
        for path, number in elements:
            index = "".join(f"[{i}]" for i in path)
            element_name = "_".join([param.name, *(str(i) for i in path)])
            if element_name in taken:
                skipped.append(element_name)
                continue
            taken.add(element_name)
            made.append(element_name)
            description = f"{param.description} ({param.name}{index})".strip()
            out.append(Parameter(name=element_name, value=number, unit=param.unit, description=description))
        aliases: list[str] = []
        if len(param.value) == 2 and not any(isinstance(v, list) for v in param.value):
            free = [f"{param.name}_{axis}" for axis in "xy"]
            if not (set(free) & (taken | blocked)):
                for alias, axis, (_, number) in zip(free, "xy", elements, strict=True):
                    taken.add(alias)
                    aliases.append(alias)
                    description = f"{param.description} ({axis} of {param.name})".strip()
                    out.append(Parameter(name=alias, value=number, unit=param.unit, description=description))
        note = f"parameter {param.name!r} is a list; its elements are the constants {made}"
        if aliases:
            note += f", also usable as {aliases}"
        if skipped:
            note += f"; {skipped} are other parameters and were kept as those"
        notes.append(note)
    return out, notes


_BOUND_WORDS = {"high": "high", "max": "high", "upper": "high", "maximum": "high",
                "low": "low", "min": "low", "lower": "low", "minimum": "low"}  # fmt: skip


def _state_bound_named(name: str, state: Sequence[StateVariable]) -> float | None:
    """The finite bound of a state variable that ``name`` names (``high_velocity``, ``velocity_max``, ``min_x``)."""
    for var in state:
        for word, side in _BOUND_WORDS.items():
            if name in (f"{word}_{var.name}", f"{var.name}_{word}"):
                value = var.high if side == "high" else var.low
                return float(value) if value is not None and math.isfinite(value) else None
    return None


def _unbounded_state(name: str, init: str, description: str, unbounded: float) -> StateVariable:
    """A state variable the assembly adds (no bounds stated, so none clipped)."""
    return StateVariable(name=name, low=-unbounded, high=unbounded, init=init, clip=False, description=description)


def _finite(value: float | None, default: float) -> float:
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _next_state_updates(
    updates: list[Assignment], state_names: set[str], known: set[str]
) -> tuple[list[Assignment], list[str]]:
    """``x_next = ...`` written for state ``x``: keep it as an intermediate and append ``x = x_next`` at the end.

    This keeps the meaning exactly (every ``*_next`` equation still sees the old values).
    """
    notes: list[str] = []
    tail: list[Assignment] = []
    assigned = {u.target for u in updates}
    out: list[Assignment] = []
    earlier: set[str] = set()
    for update in updates:
        for suffix in NEXT_VALUE_SUFFIXES:
            base = update.target[: -len(suffix)] if update.target.endswith(suffix) else None
            if not (base and base in state_names and update.target not in known):
                continue
            if base not in assigned:
                tail.append(Assignment(target=base, expr=update.target))
                notes.append(f"update {update.target!r} read as the next value of state {base!r}")
            elif base in earlier and update.target not in earlier and update.target in _names_in(update.expr):
                # `v = v + a*dt` then `v_next = clip(v_next, lo, hi)`: the clip of the value just computed.
                update = Assignment(target=base, expr=_rename(update.expr, {update.target: base}))
                notes.append(f"update {update.target!r}: {base}{suffix} = f({base}{suffix}) after {base} was set "
                             f"read as {base} = {update.expr}")  # fmt: skip
            break
        out.append(update)
        earlier.add(update.target)
    return out + tail, notes


def _action_indicators(
    actions: list[ActionSpec], shared: list[Assignment], other: list[str], defined: set[str]
) -> list[str]:
    """Give every action an update ``<name> = 1`` (its own) or ``= 0`` (the others) for action names used as values.

    Models write ``force = F * (push_right - push_left)``: the action's name as a 0/1 indicator. An action name that
    is also a constant, state variable, draw or update target keeps that meaning. The indicators come first in each
    action's updates, so the action's own effects may use them too. ``actions`` is changed in place.

    Returns:
        The action names made indicators, in action order.
    """
    used = _names_read(shared, actions, other)
    names = [a.name for a in actions if a.name in used and a.name not in defined]
    for action in actions:
        flags = [Assignment(target=name, expr="1" if name == action.name else "0") for name in names]
        action.updates[:0] = flags
    return names


def _next_value_names(texts: list[str], state_names: set[str], defined: set[str]) -> dict[str, str]:
    """``{"x_next": "x"}`` for next-value names of state variables read in ``texts`` that nothing defines."""
    mapping: dict[str, str] = {}
    for name in sorted(set().union(*(_names_in(t) for t in texts)) - defined):
        for suffix in NEXT_VALUE_SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in state_names:
                mapping[name] = name[: -len(suffix)]
                break
            # Indexed names: queue_next_1 for queue_1.
            indexed = re.fullmatch(rf"(\w+){suffix}(_\d+)", name)
            if indexed and indexed.group(1) + indexed.group(2) in state_names:
                mapping[name] = indexed.group(1) + indexed.group(2)
                break
    return mapping


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
        text_constants: Definitions the description states literally (``M = 1.1 kg``; see
            :func:`constants_in_text`): one becomes a constant when an expression reads that name and nothing
            else defines it (the Parameter agent missed it).
        text_action_symbols: Symbols the description says stand for the chosen action's index ("where a is 0, 1
            or 2 for the chosen action"; see :func:`action_symbols_in_text`): read as the built-in ``action``.
        text_formulas: Names the description defines by a formula (see :func:`formulas_in_text`): a name read but
            defined nowhere gets its formula as an update before its first reader (with the formulas it needs).

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
    # The same reserved names as the Env agent's listing of constants uses, so both show the same aliases.
    parameters, expand_notes = expand_parameters(
        parameters=parameters, reserved={v.name for v in variables} | set(mdp.states)
    )
    notes += expand_notes

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
            notes.append(
                f"state {var.name!r}: bounds [{var.low}, {var.high}] equal its start range "
                f"{var.initial}; read as a start range only, the variable is left unbounded"
            )
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
        identities = [u for u in action_updates if _is_identity(u)]
        if identities:
            action_updates = [u for u in action_updates if not _is_identity(u)]
            notes.append(
                f"action {action.name!r}: dropped the identity updates "
                f"{[f'{u.target} = {u.expr}' for u in identities]} (they change nothing)"
            )
        actions.append(ActionSpec(name=action.name, updates=action_updates, description=action.effect))

    # An action's effect `x_next = ...` for state x sets x's next value: it is `x = ...` (a state an action does not
    # assign keeps its value), and later reads of x_next are x (see the shared updates below).
    shared_targets = {u.target for u in updates}
    set_by_actions: set[str] = set()
    for action in actions:
        for i, update in enumerate(action.updates):
            base = _next_value_names([update.target], state_names, set(constants) | shared_targets).get(update.target)
            if base is not None:
                action.updates[i] = Assignment(target=base, expr=update.expr)
                set_by_actions.add(base)
                notes.append(f"action {action.name!r}: {update.target!r} = ... read as the next value of state "
                             f"{base!r}")  # fmt: skip

    known = set(constants) | state_names | {d.name for d in draws}
    known |= {u.target for a in actions for u in a.updates}
    cleaned: list[Assignment] = []
    for update in updates:
        fixed, note = _strip_statement(update)
        if _is_identity(fixed):
            # A no-op whatever the target is; kept, it fails as "assigns to constant" when the target is one.
            notes.append(f"update {update.target!r}: dropped the identity update {update.expr!r} (it changes nothing)")
            continue
        if note:
            notes.append(note)
        cleaned.append(fixed)
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
    observation = list(sar.observations)

    # Not the observation: it is also computed at reset, before any action, so it cannot read an action variable.
    indicators = _action_indicators(actions, shared, [reward, *terminated], known | targets)
    if indicators:
        notes.append(
            f"action names {indicators} are used as values: each is an action variable, 1 when that "
            "action is chosen and 0 otherwise"
        )

    # Reward, termination and observation see the values after the updates: there ``x_next`` is ``x``. So does an
    # update that comes after the one assigning ``x`` (``x = x + dt * v_next`` after ``v = ...``: semi-implicit Euler).
    defined = known | targets | {u.target for a in actions for u in a.updates}
    assigned: set[str] = set(set_by_actions)
    for index, update in enumerate(shared):
        later = {alias: base for alias, base in _next_value_names([update.expr], state_names, defined).items()
                 if base in assigned}  # fmt: skip
        if later:
            shared[index] = Assignment(target=update.target, expr=_rename(update.expr, later))
            notes += [f"update {update.target!r}: {alias!r} read as state {base!r}, which an earlier update already "
                      "set to its next value" for alias, base in sorted(later.items())]  # fmt: skip
        assigned.add(update.target)
    next_names = _next_value_names([reward, *terminated, *observation], state_names, defined)
    if next_names:
        reward = _rename(reward, next_names)
        terminated = [_rename(t, next_names) for t in terminated]
        observation = [_rename(t, next_names) for t in observation]
        for alias, base in sorted(next_names.items()):
            notes.append(
                f"{alias!r} in the reward, termination or observation read as state {base!r}: they are "
                "evaluated after the updates, so it already holds the next value"
            )

    # The text says which symbol is the action's index ("where a is 0, 1 or 2 for the chosen action").
    moving = state_names | {d.name for d in draws} | targets | {u.target for a in actions for u in a.updates}
    as_action = {symbol: "action" for symbol in text_action_symbols if symbol not in moving and symbol != "action"}
    if as_action:
        read = _names_read(shared, actions, [reward, *terminated])
        as_action = {k: v for k, v in as_action.items() if k in read}
    if as_action:
        shared = [Assignment(target=u.target, expr=_rename(u.expr, as_action)) for u in shared]
        for action in actions:
            action.updates = [Assignment(target=u.target, expr=_rename(u.expr, as_action)) for u in action.updates]
        reward = _rename(reward, as_action)
        terminated = [_rename(t, as_action) for t in terminated]
        for symbol in sorted(as_action):
            shadowed = f" (the constant {symbol!r} is no longer read)" if symbol in constants else ""
            notes.append(f"{symbol!r} read as the chosen action's index `action`, as the text says{shadowed}")

    def defined_now() -> set[str]:
        """Every name the spec defines so far (the passes below add constants, updates and states)."""
        return known | set(constants) | targets | {u.target for a in actions for u in a.updates} | _reserved_names()

    # Names the expressions read that nothing defines, but that the text defines literally ("M = 1.1 kg").
    if text_constants:
        defined = defined_now()
        others = [reward, *terminated, *observation, *(s.init for s in state)]
        read = {_identifier_or_none(n) for n in _names_read(shared, actions, others)} - {None}
        for missing in sorted(read - defined):
            if missing in text_constants:
                constants[missing] = float(text_constants[missing])
                notes.append(f"{missing!r} is read but no agent defined it; the text defines it: "
                             f"{missing} = {text_constants[missing]:g}")

    # A state's bounds named but never defined (`clip(velocity, low_velocity, high_velocity)`, `max_x`, `x_min`).
    read = _names_read(shared, actions, [reward, *terminated, *observation])
    for missing in sorted(read - defined_now()):
        bound = _state_bound_named(missing, state)
        if bound is not None:
            constants[missing] = bound
            notes.append(f"{missing!r} is read but nothing defines it; it names a bound of a state variable: "
                         f"{missing} = {bound:g}")  # fmt: skip

    # Names still undefined that the text defines by a formula ("x_ddot = temp - m*l*theta_ddot*cos(theta) / M"),
    # or else the Modeling agent's transitions do ("user1_queue_next = ..." read by "user1_queue = user1_queue_next").
    formulas = {name: (expr, "the MDP's transitions give") for name, expr in formulas_in_text(
        "\n".join(mdp.transitions)).items()}  # fmt: skip
    formulas |= {name: (expr, "the text gives") for name, expr in (text_formulas or {}).items()}
    if formulas:
        shared, formula_notes = _define_from_text_formulas(
            shared=shared,
            actions=actions,
            others=[reward, *terminated, *observation],
            defined=defined_now(),
            state=state_names,
            formulas=formulas,
        )
        notes += formula_notes

    # An action variable that only some actions set and nothing reads (`move = -1` in one action's effect while the
    # updates read the action index) changes nothing; kept, it fails the spec ("every action must assign it"). One
    # that every action sets is kept: then the executor's action check names it in its hint to the Env agent.
    read_by_anything = _names_read([u for u in shared if not _is_identity(u)], actions,
                                   [reward, *terminated, *observation])  # fmt: skip
    declared = set(constants) | state_names | {d.name for d in draws}
    set_by = [{u.target for u in a.updates} for a in actions]
    partial = set().union(*set_by) - set.intersection(*set_by) if set_by else set()
    unread = partial - read_by_anything - declared
    if unread:
        for action in actions:
            action.updates = [u for u in action.updates if u.target not in unread]
        shared = [u for u in shared if u.target not in unread]
        notes.append(f"action variable(s) {sorted(unread)} set by actions but read by nothing: dropped (no effect)")

    # A name nothing declares whose first assignment reads itself (`steps_taken = steps_taken + 1`) is a counter
    # the agents forgot to declare: a state variable starting at 0.
    first_assignments: dict[str, Assignment] = {}
    for update in [*(u for a in actions for u in a.updates), *shared]:
        first_assignments.setdefault(update.target, update)
    for target, update in sorted(first_assignments.items()):
        if target not in declared and target in _names_in(update.expr):
            state.append(_unbounded_state(target, "0", "an undeclared name whose update reads itself", unbounded))
            notes.append(f"{target!r} is updated from itself ({target} = {update.expr}) but nothing declares it: "
                         f"made it a state variable starting at 0")  # fmt: skip

    # A "constant" the updates assign changes over time: it is a state variable that starts at the given value
    # (the Variable agent made channel1_good a parameter, then the Env agent updated it every step).
    assigned = {u.target for u in shared} | {u.target for a in actions for u in a.updates}
    for promoted in sorted(assigned & set(constants)):
        value = constants.pop(promoted)
        state.append(_unbounded_state(promoted, repr(float(value)), "a parameter the updates assign", unbounded))
        notes.append(f"parameter {promoted!r} is assigned by the updates, so it is not constant: made it a state "
                     f"variable starting at {value:g}")  # fmt: skip

    max_steps = mdp.horizon
    if mdp.horizon_parameter:
        named = constants.get(mdp.horizon_parameter)
        if named is not None and named >= 1:
            max_steps = int(round(named))
            notes.append(f"horizon written as the parameter {mdp.horizon_parameter!r}: used its value {max_steps}")
        else:
            notes.append(f"horizon written as {mdp.horizon_parameter!r}, which names no positive constant; "
                         f"used the default {max_steps}")

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
            max_steps=max_steps,
            observation=observation,
        )
    except ValidationError as exc:
        raise AssemblyError([err["msg"] for err in exc.errors()]) from exc
    spec, reached = _read_float_equalities_as_reached(spec)
    notes += [
        f"termination condition {old!r} compares a continuous state to a number with ==, which a step almost never "
        f"hits exactly; every start state lies on one side, so it was read as reaching it: {new!r}"
        for old, new in reached
    ]
    spec, inverted = _invert_start_true_terminations(spec)
    notes += [
        f"termination condition {cond!r} holds at every start state, so every episode would end at its first step: "
        f"read as the condition for going on (the model wrote the allowed range), i.e. ended when not ({cond})"
        for cond in inverted
    ]
    return Assembly(spec=spec, notes=notes)


# A literal definition in the text: "M = 1.1 kg", "m·l = 0.05 kg·m", "τ = 0.02 s" (not "x = 2 * y", not "x = x + 1").
_TEXT_DEFINITION = re.compile(
    r"(?<![\w.·*])([^\W\d][\w·]*(?:\*[^\W\d][\w·]*)*)\s*=\s*([-−+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"(?!\d|\.\d|\s*[-−+*/^×·(])"
)


@functools.cache
def _reserved_names() -> frozenset[str]:
    from alamp.spec.expr import BUILTIN_CONSTANTS, FUNCTIONS

    return frozenset({*FUNCTIONS, *BUILTIN_CONSTANTS, "action", "True", "False", "and", "or", "not", "if", "else"})


def _identifier_or_none(name: str) -> str | None:
    try:
        return to_identifier(name)
    except ValueError:
        return None


def constants_in_text(text: str) -> dict[str, float]:
    """Symbols the text defines literally with one number (``M = 1.1 kg``), as identifiers (``m·l`` -> ``m_l``).

    A symbol given two different values is left out: then the text does not say which one is meant.
    """
    values: dict[str, set[float]] = {}
    for match in _TEXT_DEFINITION.finditer(text or ""):
        name = _identifier_or_none(match.group(1).replace("*", "·"))  # m*l (plain form of m·l) -> m_l
        if name is None:
            continue
        values.setdefault(name, set()).add(float(match.group(2).replace("−", "-")))
    return {name: next(iter(found)) for name, found in values.items() if len(found) == 1}


_FORMULA_START = re.compile(r"(?<![\w.*])([A-Za-z_]\w*)\s*=(?!=)\s*")
# Where a formula in running text may end: a comma or full stop followed by a space, a semicolon, a line end.
_FORMULA_END = re.compile(r",(?=\s)|;|\n|\.(?=\s|$)|$")
_FORMULA_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant, ast.Call, ast.Compare, ast.IfExp,
    ast.BoolOp, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
)  # fmt: skip


def _formula_or_none(text: str, target: str) -> str | None:
    """``text`` as a formula for ``target``: arithmetic on names, numbers and known functions, not reading itself."""
    from alamp.spec.expr import FUNCTIONS

    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _FORMULA_NODES):
            return None
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, int | float)):
            return None
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            return None
        if isinstance(node, ast.Name):
            names.add(node.id)
    callees = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    read = names - callees
    if not read or target in read:
        return None  # a number is constants_in_text's; x = x + ... is an update, not a definition
    return ast.unparse(tree)


def _define_from_text_formulas(
    *,
    shared: list[Assignment],
    actions: list[ActionSpec],
    others: list[str],
    defined: set[str],
    state: set[str],
    formulas: Mapping[str, tuple[str, str]],
) -> tuple[list[Assignment], list[str]]:
    """Insert the formula of each name that is read but defined nowhere, before its first reader.

    ``formulas`` maps a name to its expression and where the formula comes from (for the note).

    A formula is used only when every name it reads is defined, or is itself defined by a usable text formula (those
    are inserted first). Names that stay undefined are left for the spec compiler to report.
    """
    shared = list(shared)
    notes: list[str] = []

    def is_defined(name: str) -> bool:
        return name in defined or any(u.target == name for u in shared)

    def usable(name: str, seen: frozenset[str]) -> bool:
        if is_defined(name):
            return True
        if name not in formulas or name in seen:
            return False
        return all(usable(n, seen | {name}) for n in _names_in(formulas[name][0]))

    # The formulas needed, dependencies first (a depth-first post-order), inserted as one block before the first
    # update that reads any of them (after the updates the block itself reads).
    block: list[str] = []

    def collect(name: str) -> None:
        for dependency in sorted(_names_in(formulas[name][0])):
            if not is_defined(dependency) and dependency not in block:
                collect(dependency)
        if name not in block:
            block.append(name)

    for missing in sorted(_names_read(shared, actions, others) - defined):
        if not is_defined(missing) and missing not in block and usable(missing, frozenset()):
            collect(missing)
    if not block:
        return shared, notes
    readers = [i for i, u in enumerate(shared) if _names_in(u.expr) & set(block)]
    read_by_block = set().union(*(_names_in(formulas[name][0]) for name in block))
    # Intermediates the block reads must come first; state variables (and constants, which nothing may assign) it
    # reads are meant at their old values.
    needed = [
        i + 1 for i, u in enumerate(shared) if u.target in read_by_block and u.target not in state | defined
    ]
    position = max(min(readers, default=len(shared)), max(needed, default=0))
    shared[position:position] = [Assignment(target=name, expr=formulas[name][0]) for name in block]
    notes += [
        f"{name!r} is read but nothing defines it; {formulas[name][1]} its formula: {name} = {formulas[name][0]}"
        for name in block
    ]
    return shared, notes


def formulas_in_text(text: str) -> dict[str, str]:
    """Names the text defines by a formula (``temp = (F + m*l*theta_dot**2*sin(theta)) / M``), as expressions.

    The text is read in plain form (``alamp.mathtext``). A formula ends at the first comma or full stop followed by a
    space, semicolon or line end after which it parses; it must be arithmetic on names, numbers and the expression
    language's functions, and must not read its own name (``x = x + tau*x_dot`` is an update, not a definition). A
    name given two different formulas is left out.
    """
    from alamp.mathtext import plain_math

    plain = plain_math(text or "")
    found: dict[str, set[str]] = {}
    for match in _FORMULA_START.finditer(plain):
        target, rest = match.group(1), plain[match.end() : match.end() + 400]
        for end in _FORMULA_END.finditer(rest):
            formula = _formula_or_none(rest[: end.start()].strip(), target)
            if formula is not None:
                found.setdefault(target, set()).add(formula)
                break
    return {name: next(iter(formulas)) for name, formulas in found.items() if len(formulas) == 1}


# "where a is 0, 1 or 2 for the chosen action", "with u ∈ {0, 1} the action", "here k denotes the action index"
_TEXT_ACTION_SYMBOL = re.compile(
    r"\b(?:where|with|here)\s+([^\W\d]\w{0,3})\s+(?:is|∈|denotes|stands for)\s+[^.;:\n]{0,60}?\baction\b",
    re.IGNORECASE,
)


def action_symbols_in_text(text: str) -> set[str]:
    """Short symbols the text says stand for the chosen action (``where a is 0, 1 or 2 for the chosen action``)."""
    found = {_identifier_or_none(m.group(1)) for m in _TEXT_ACTION_SYMBOL.finditer(text or "")}
    return {name for name in found if name and name.lower() not in {"the", "it", "this", "that", "each", "an", "a_"}}


_START_PROBES = 16


def _invert_start_true_terminations(spec: EnvSpec) -> tuple[EnvSpec, list[str]]:
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
            ends_at_start = all(_ends_at_once(env, seed) for seed in range(_START_PROBES))
        except (SpecError, ValidationError, ValueError, ArithmeticError):
            continue  # names an intermediate or a draw, or fails numerically: not probed
        if ends_at_start:
            conditions[index] = f"not ({condition})"
            inverted.append(condition)
    if not inverted:
        return spec, []
    return EnvSpec.model_validate(spec.model_dump() | {"terminated": conditions}), inverted


class _ReachFromStart(ast.NodeTransformer):
    """``x == c`` -> ``x >= c`` (or ``<=``) where every start value of the state ``x`` lies below (above) ``c``."""

    def __init__(self, starts: dict[str, np.ndarray], constants: dict[str, float]) -> None:
        self.starts, self.constants = starts, constants

    def _number(self, node: ast.expr) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self._number(node.operand)
            return None if inner is None else -inner
        if isinstance(node, ast.Name) and node.id in self.constants:
            return float(self.constants[node.id])
        return None

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq):
            return node
        left, right = node.left, node.comparators[0]
        if not (isinstance(left, ast.Name) and left.id in self.starts):
            left, right = right, left
        if not isinstance(left, ast.Name) or left.id not in self.starts:
            return node
        target = self._number(right)
        if target is None:
            return node
        starts = self.starts[left.id]
        # A state that starts on whole numbers and is compared to a whole number is a counter or a grid cell:
        # there == is meant and hit.
        if np.all(starts == np.round(starts)) and float(target).is_integer():
            return node
        if np.all(starts < target):
            return ast.Compare(left=left, ops=[ast.GtE()], comparators=[right])
        if np.all(starts > target):
            return ast.Compare(left=left, ops=[ast.LtE()], comparators=[right])
        return node


def _read_float_equalities_as_reached(spec: EnvSpec) -> tuple[EnvSpec, list[tuple[str, str]]]:
    """Read ``position == 0.5`` in a termination condition as reaching 0.5 (``position >= 0.5``).

    The small model writes "once the position reaches 0.5" as an equality, which a continuous state almost never meets
    exactly, so the episode could only end by truncation. The rewrite needs every sampled start value on one side of
    the number (then "reaches" can only mean crossing it from there); counters and grid cells compared to whole
    numbers keep their ``==``.
    """
    from alamp.spec import SpecError, compile_spec

    if not any("==" in condition for condition in spec.terminated):
        return spec, []
    try:
        env = compile_spec(spec).make_env()
        samples = []
        for seed in range(_START_PROBES):
            env.reset(seed=seed)
            samples.append(np.asarray(env.unwrapped.get_state(), dtype=float))
    except (SpecError, ValidationError, ValueError, ArithmeticError):
        return spec, []
    starts = {var.name: np.array([row[i] for row in samples]) for i, var in enumerate(spec.state)}
    transformer = _ReachFromStart(starts, dict(spec.constants))
    conditions, changed = [], []
    for condition in spec.terminated:
        try:
            tree = ast.parse(condition, mode="eval")
        except SyntaxError:
            conditions.append(condition)
            continue
        rewritten = ast.unparse(ast.fix_missing_locations(transformer.visit(tree)))
        if rewritten != ast.unparse(ast.parse(condition, mode="eval")):
            changed.append((condition, rewritten))
            conditions.append(rewritten)
        else:
            conditions.append(condition)
    if not changed:
        return spec, []
    return EnvSpec.model_validate(spec.model_dump() | {"terminated": conditions}), changed


def _ends_at_once(env: Any, seed: int) -> bool:
    env.reset(seed=seed)
    return bool(env.step(0)[2])
