"""Repair: ``if c then a else b`` is the conditional expression ``(a) if (c) else (b)``.

Reads and rewrites every expression: the shared updates, the actions' updates, the reward, the termination
conditions and the observation. The expression grammar lets the model write the form it reaches for (refused it,
the model ran the keywords into names); the spec language, like Python, writes the condition in the middle.
Nested forms (``if c then a else if d then b else e``) are rewritten from the outside in.

Origin: frozen_lake (dev, session 13): the SAR agent's reward
``ifrow == goal_row and col == goal_colthengoal_rewardelse0`` under the grammar; before the grammar,
``if row == goal_row and col == goal_col then goal_reward else 0``.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.state import AssemblyState
from alamp.schema import Assignment

_KEYWORD = re.compile(r"\b(if|then|else)\b")


def as_python_conditional(text: str) -> str:
    """``if c then a else b`` -> ``(a) if (c) else (b)``; any other text comes back unchanged."""
    stripped = text.strip()
    if not re.match(r"if\b", stripped):
        return text
    keywords = [(m.group(1), m.start(), m.end()) for m in _KEYWORD.finditer(stripped)][1:]
    depth, then_at = 0, None
    for position, (word, _, _) in enumerate(keywords):  # the "then" of the leading "if"
        if word == "then" and depth == 0:
            then_at = position
            break
        depth += {"if": 1, "else": -1}.get(word, 0)
    if then_at is None:
        return text
    depth = 0
    for word, start, end in keywords[then_at + 1 :]:  # its "else": nested "if"s (either form) end with theirs
        if word == "else" and depth == 0:
            condition = stripped[len("if") : keywords[then_at][1]].strip()
            when_true = stripped[keywords[then_at][2] : start].strip()
            when_false = stripped[end:].strip()
            if not (condition and when_true and when_false):
                return text
            return f"({as_python_conditional(when_true)}) if ({condition}) else ({as_python_conditional(when_false)})"
        depth += {"if": 1, "else": -1}.get(word, 0)
    return text


def run(state: AssemblyState) -> None:
    def rewrite(text: str, where: str) -> str:
        python = as_python_conditional(text)
        if python != text:
            state.fire(f"{where}: 'if ... then ... else ...' written as {python!r}")
        return python

    state.shared = [Assignment(target=u.target, expr=rewrite(u.expr, f"update {u.target!r}")) for u in state.shared]
    for action in state.actions:
        action.updates = [Assignment(target=u.target, expr=rewrite(u.expr, f"action {action.name!r}"))
                          for u in action.updates]  # fmt: skip
    state.reward = rewrite(state.reward, "reward")
    state.terminated = [rewrite(t, "termination") for t in state.terminated]
    state.observation = [rewrite(o, "observation") for o in state.observation]


PASS = Pass(
    name="if_then_else_as_conditional",
    run=run,
    kind="repair",
    origin="frozen_lake (dev, session 13): the SAR reward 'if row == goal_row ... then goal_reward else 0', glued "
    "into names under the grammar",
    note_pattern=re.compile(r"^[^:]*: 'if \.\.\. then \.\.\. else \.\.\.' written as "),
)
