"""Repair: actions that set one quantity to their own names (``move = left`` in action ``left``, ``move = down`` in
``down``) choose a label: the quantity is the chosen action's index, and ``move == left`` compares it with ``left``'s.

Reads ``actions``, ``shared``, ``reward`` and ``terminated``. When at least two actions, and every action, set the
same target to its own name, each such effect becomes ``<target> = <its index>`` and every comparison of the target
with an action's name (``move == left``, ``left != move``) compares it with that action's index. Without it the
action-name indicators make every label 1 (``move = left`` reads the indicator of the action being taken), so all
actions set the same value and none controls anything.

Origin: frozen_lake and frozen_lake_slippery (dev, seed 0): the SAR agent wrote ``move = left`` ... ``move = up``
and the Env agent compared ``move == left``; every candidate failed the actions check or the Env agent spent its
repairs on effects it did not write.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment


def _label_target(state: AssemblyState) -> str | None:
    """The target every action sets to its own name, if there is one."""
    if len(state.actions) < 2:
        return None
    candidates: set[str] | None = None
    for action in state.actions:
        own = {u.target for u in action.updates if u.expr.strip() == action.name and u.target != action.name}
        candidates = own if candidates is None else candidates & own
    return min(candidates) if candidates else None


def _compare_by_index(expr: str, target: str, index: dict[str, float]) -> str:
    names = "|".join(re.escape(n) for n in sorted(index, key=len, reverse=True))
    t = re.escape(target)
    expr = re.sub(rf"\b{t}\s*(==|!=)\s*({names})\b", lambda m: f"{target} {m[1]} {index[m[2]]:g}", expr)
    return re.sub(rf"\b({names})\s*(==|!=)\s*{t}\b", lambda m: f"{index[m[1]]:g} {m[2]} {target}", expr)


def _values(state: AssemblyState) -> dict[str, float] | None:
    """Each action's constant, when every action's name is also a constant and they differ (``torque_minus = -2``)."""
    values: dict[str, float] = {}
    for action in state.actions:
        value = state.constants.get(action.name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        values[action.name] = float(value)
    return values if len(set(values.values())) == len(values) else None


def run(state: AssemblyState) -> None:
    target = _label_target(state)
    if target is None:
        return
    # The text may value each action ("torque_minus (-2 N*m), coast (0) and torque_plus (+2 N*m)") and the Parameter
    # agent keep those values as constants of the actions' names: then the name stands for its value, not a label
    # (pendulum_swingup, dev: u_next = torque_minus became u_next = 0, the index, instead of -2).
    values = _values(state)
    index = values or {action.name: i for i, action in enumerate(state.actions)}
    for action in state.actions:
        action.updates = [
            Assignment(target=target, expr=f"{index[action.name]:g}" if values else str(index[action.name]))
            if u.target == target
            else u
            for u in action.updates
        ]
    state.shared = [Assignment(target=u.target, expr=_compare_by_index(u.expr, target, index)) for u in state.shared]
    state.reward = _compare_by_index(state.reward, target, index)
    state.terminated = [_compare_by_index(c, target, index) for c in state.terminated]
    what = "value, as the constants of those names give it" if values else "index"
    state.fire(
        f"actions set {target!r} to their own names: {target} is the chosen action's {what} "
        f"({', '.join(f'{name} = {i:g}' for name, i in index.items())})"
    )


PASS = Pass(
    name="action_labels_as_indices",
    run=run,
    kind="repair",
    origin="frozen_lake, frozen_lake_slippery (dev, seed 0): move = left ... move = up",
    note_pattern=re.compile(r"^actions set '[^']*' to their own names"),
)
