"""The declarative environment spec: what the Env agent hands on, and what alamp compiles into an environment.

Step semantics (one transition, given the current state and a discrete action index):

1. ``draws`` are sampled in order (exogenous randomness, e.g. ``demand = poisson(lam)``);
2. the chosen action's ``updates`` run in order (``force = -force_mag`` or ``y = y + 1``);
3. the shared ``updates`` run in order, sequentially (each sees the values assigned before it);
4. state variables with ``clip=True`` are clipped to ``[low, high]``;
5. ``reward`` is evaluated; any ``terminated`` condition true ends the episode; reaching ``max_steps`` truncates;
6. the observation is ``observation`` (expressions; by default the state variable names, in order).

Bounds (``low``/``high``) describe where a variable may be; ``init`` says how an episode starts. They are
separate fields because small models confuse them.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alamp.schema._markers import EXPRESSION
from alamp.schema._names import Identifier, check_unique, to_identifier

__all__ = ["StateVariable", "RandomDraw", "Assignment", "ActionSpec", "EnvSpec"]


class _Model(BaseModel):
    # infinite bounds survive a JSON round trip as Infinity (pydantic's default would write null)
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, ser_json_inf_nan="constants")


def _expression_text(value: object) -> object:
    """Expressions are strings; a bare number or bool written by a model is unambiguous, so take it as text."""
    if isinstance(value, bool | int | float):
        return str(value)
    return value


class StateVariable(_Model):
    """A scalar state variable."""

    name: Identifier
    low: float = Field(description="smallest value the variable can take (observation bound)")
    high: float = Field(description="largest value the variable can take (observation bound)")
    init: str = Field(default="0", description="start value or distribution expression, e.g. uniform(-0.05, 0.05)")
    clip: bool = Field(default=False, description="clip to [low, high] after every step")
    description: str = ""

    @field_validator("init", mode="before")
    @classmethod
    def _init(cls, v: object) -> str:
        return str(v)

    @model_validator(mode="after")
    def _bounds(self) -> StateVariable:
        if self.low > self.high:
            raise ValueError(f"state variable {self.name!r} has low={self.low} > high={self.high}")
        return self


class RandomDraw(_Model):
    """An exogenous random quantity drawn at the start of every step, e.g. ``demand = poisson(lam)``."""

    name: Identifier
    expr: str

    @field_validator("expr", mode="before")
    @classmethod
    def _expr(cls, v: object) -> object:
        return _expression_text(v)


_TARGET_KEYS = ("target", "name", "variable", "var", "lhs")
_EXPR_KEYS = ("expr", "expression", "value", "rhs", "formula", "equation", "update")
# What JSON repair leaves of `{"demand", "expr": "demand + 1"}` (a comma where a colon belongs): {'demand': 'expr": "…'}
_SPILLED_EXPR = re.compile(r'^\s*"?(?:expr|expression)"?\s*:\s*"?(.*?)"?\s*$', re.S)
_STATEMENT = re.compile(r"^\s*([^\W\d][\w.']*)\s*=(?!=)\s*(.+)$", re.S)


def _recover_assignment(value: object) -> object:
    """Read the shapes a small model writes for ``{"target": …, "expr": …}`` when the meaning is unambiguous.

    ``{"name": "x", "expression": "x + 1"}`` (synonym keys), ``{"x": "x + 1"}`` (one pair: target -> expression,
    also beside pairs with empty values),
    ``{"x": 'expr": "x + 1"'}`` (a comma written for a colon, as JSON repair leaves it) and ``"x = x + 1"`` (a
    statement, also as the value of ``target``). Anything else is passed on for the normal validation error.
    """
    if isinstance(value, str):
        match = _STATEMENT.match(value)
        return {"target": match.group(1), "expr": match.group(2)} if match else value
    if not isinstance(value, dict):
        return value
    target = next((value[k] for k in _TARGET_KEYS if k in value), None)
    expr = next((value[k] for k in _EXPR_KEYS if k in value), None)
    if target is not None and expr is not None:
        return {"target": target, "expr": expr}
    if isinstance(target, str) and expr is None and (match := _STATEMENT.match(target)):
        return {"target": match.group(1), "expr": match.group(2)}  # {"target": "x = x + 1"}
    # {"x": "x + 1"}, also with empty companions ({"velocity_next": "...", "move": ""}): one pair holds the update.
    filled = {
        key: text
        for key, text in value.items()
        if isinstance(key, str) and isinstance(text, str | int | float) and str(text).strip()
    }
    if len(filled) == 1:
        ((key, text),) = filled.items()
        if key not in _TARGET_KEYS + _EXPR_KEYS:
            spilled = _SPILLED_EXPR.match(text) if isinstance(text, str) else None
            return {"target": key, "expr": spilled.group(1) if spilled else text}
    return value


class Assignment(_Model):
    """``target = expr``; targets are state variables or intermediate names."""

    target: Identifier
    expr: Annotated[str, EXPRESSION]

    @model_validator(mode="before")
    @classmethod
    def _recover(cls, value: object) -> object:
        return _recover_assignment(value)

    @field_validator("expr", mode="before")
    @classmethod
    def _expr(cls, v: object) -> object:
        return _expression_text(v)


class ActionSpec(_Model):
    """A discrete action; it may carry its own updates (``north: y = y + 1``, or ``force = -10``)."""

    name: Identifier
    updates: list[Assignment] = Field(default_factory=list)
    description: str = ""


class EnvSpec(_Model):
    """A whole environment as data: constants, state, randomness, update equations, reward, termination."""

    id: str = Field(default="alamp/Generated-v0", description="gymnasium id to register the compiled env under")
    constants: dict[str, float] = Field(default_factory=dict)
    state: list[StateVariable]
    draws: list[RandomDraw] = Field(default_factory=list)
    actions: list[ActionSpec]
    updates: list[Assignment] = Field(default_factory=list)
    reward: str = "0"
    terminated: list[str] = Field(default_factory=list, description="any condition true ends the episode")
    max_steps: int = Field(default=500, gt=0, description="episodes are truncated after this many steps")
    observation: list[str] = Field(default_factory=list, description="observation expressions; default: state")

    @field_validator("reward", mode="before")
    @classmethod
    def _reward(cls, v: object) -> object:
        return _expression_text(v)

    @field_validator("terminated", "observation", mode="before")
    @classmethod
    def _expressions(cls, v: object) -> object:
        if isinstance(v, str | bool | int | float):  # one condition given without its list
            v = [v]
        return [_expression_text(item) for item in v] if isinstance(v, list) else v

    @field_validator("constants", mode="before")
    @classmethod
    def _constants(cls, v: object) -> object:
        if isinstance(v, dict):
            return {to_identifier(k): val for k, val in v.items()}
        if isinstance(v, list):  # a list of {"name", "value"} (e.g. Parameters) is unambiguous
            return {to_identifier(item["name"]): item["value"] for item in v}
        return v

    @model_validator(mode="after")
    def _check(self) -> EnvSpec:
        if not self.state:
            raise ValueError("state is empty; an environment needs at least one state variable")
        if not self.actions:
            raise ValueError("actions is empty; an environment needs at least one discrete action")
        check_unique([s.name for s in self.state], "state variable")
        check_unique([a.name for a in self.actions], "action")
        clash = set(self.constants) & {s.name for s in self.state}
        if clash:
            raise ValueError(f"names used both as constant and state variable: {sorted(clash)}; rename one")
        if not self.observation:
            self.observation = [s.name for s in self.state]
        return self
