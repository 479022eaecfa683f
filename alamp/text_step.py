"""The step as the text itself writes it: update lines and random draws copied, not re-written by the model.

Many users state their dynamics: ``T_in ← T_in + 0.1·(T_out − T_in) + 1.5·P + η, η ~ Normal(0, 0.1)``. The small
model copies such lines well when it copies them at all, but an Env answer often drops or rewrites them (on the
thermostat train task it wrote ``T_in = uniform(15, 20)`` as the update). Copying is mechanical, so it is done
mechanically: ``read_text_step`` finds, in the plain-math text, each update line (a formula whose target it reads
itself, or ``next_x`` / ``x_next`` of a name it reads) and each draw (``η ~ Normal(0, 0.1)``); ``with_text_step``
makes, from an Env answer, a candidate in which every state variable the text updates takes the text's line (in the
text's order), the draws the text states become assignments where nothing else defines them, and the rest of the
answer is kept. That candidate is checked like any other and joins the consensus; it is never forced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from alamp.schema import Assignment
from alamp.schema._names import NEXT_VALUE_SUFFIXES

__all__ = ["TextStep", "read_text_step", "updated_name", "with_text_step"]

# "eta ~ Normal(0, 0.1)", "w ~ N(0, 0.5)", "demand ~ Poisson(4)" (plain form).
_DRAW = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*~\s*([A-Za-z]+)\s*\(([^()]*)\)")
# Distribution names as people write them -> the spec language's random functions.
_DISTRIBUTIONS = {
    "normal": "normal", "n": "normal", "gaussian": "normal", "gauss": "normal",
    "uniform": "uniform", "u": "uniform",
    "poisson": "poisson", "pois": "poisson",
    "bernoulli": "bernoulli", "bern": "bernoulli",
}  # fmt: skip


@dataclass(frozen=True)
class TextStep:
    """What the text states of one step.

    Attributes:
        updates: ``x = f(x, ...)`` lines, in the text's order, each target the name it updates.
        draws: Name -> the spec-language expression of its distribution (``normal(0, 0.1)``).
    """

    updates: tuple[Assignment, ...] = ()
    draws: dict[str, str] = field(default_factory=dict)


def updated_name(target: str, reads: Sequence[str]) -> str | None:
    """The name a formula updates: its target when it reads it, or ``x`` for ``next_x`` / ``x_next`` reading ``x``."""
    if target in reads:
        return target
    candidates = [target[len("next_") :]] if target.startswith("next_") else []
    candidates += [target[: -len(s)] for s in NEXT_VALUE_SUFFIXES if target.endswith(s)]
    return next((c for c in candidates if c and c in reads), None)


def read_text_step(plain: str) -> TextStep:
    """The update lines and draws a plain-math description states (see the module docstring)."""
    from alamp.description import formula_statements  # the one reader of the text's formulas

    updates: list[Assignment] = []
    seen: set[str] = set()
    for target, expr, reads in formula_statements(plain):
        name = updated_name(target, reads)
        if name is None or name in seen:
            continue
        seen.add(name)
        updates.append(Assignment(target=name, expr=expr))
    draws: dict[str, str] = {}
    for match in _DRAW.finditer(plain):
        function = _DISTRIBUTIONS.get(match.group(2).lower())
        if function is not None and match.group(1) not in draws:
            draws[match.group(1)] = f"{function}({match.group(3).strip()})"
    return TextStep(updates=tuple(updates), draws=draws)


def with_text_step(
    updates: Sequence[Assignment], *, step: TextStep, state: Iterable[str], defined: Iterable[str]
) -> list[Assignment] | None:
    """An Env answer with the text's own lines for the state variables the text updates.

    Args:
        updates: The Env agent's answer.
        step: What the text states (``read_text_step``).
        state: The state variables' names.
        defined: Names defined before the step (constants, variables, draws): a text draw of one of them is not
            added again.

    Returns:
        The candidate, or None when the text updates none of the state variables (or the answer already is it).
    """
    state_names = set(state)
    text_updates = [u for u in step.updates if u.target in state_names]
    if not text_updates:
        return None
    replaced = {u.target for u in text_updates}
    # The agent's own line for a replaced state, in any spelling of its next value (x_next, next_x, x_new ...), goes:
    # kept, assembly would read it as the state's update after the text's (epidemic_control, dev: S_next = ...).
    kept = [u for u in updates if u.target not in replaced and updated_name(u.target, sorted(replaced)) is None]
    known = set(defined) | {u.target for u in kept}
    read = " ".join(u.expr for u in text_updates)
    draws = [
        Assignment(target=name, expr=expr)
        for name, expr in step.draws.items()
        if name not in known and re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", read)
    ]
    candidate = [*draws, *kept, *text_updates]
    same = [(u.target, u.expr) for u in candidate] == [(u.target, u.expr) for u in updates]
    return None if same else candidate
