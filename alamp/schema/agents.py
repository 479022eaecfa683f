"""Typed outputs of the modelling agents: Parameter, Objective, Variable, Constraint, MDP model, SAR spec.

Every model is small and flat on purpose: the embedded 1.5B model fills short schemas far more reliably than
nested ones. Validators normalise what is unambiguous (names, "maximize" for "max") and reject what cannot be
right, with messages written so that a repair step (or the LLM's retry) can act on them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from alamp.schema._markers import CHOICE, SPEC_ASSIGNMENTS, SPEC_EXPRESSION
from alamp.schema._names import Identifier, check_unique, to_identifier
from alamp.schema._numbers import read_number

_NAME = re.compile(r"[^\W\d]\w*")

__all__ = [
    "Parameter",
    "Objective",
    "Variable",
    "Constraint",
    "MDPModel",
    "SARAction",
    "SARSpec",
    "ExecutionReport",
    "GeneratedCode",
    "SymbolConstant",
]

_SENSES = {
    "max": "max",
    "maximize": "max",
    "maximise": "max",
    "maximum": "max",
    "min": "min",
    "minimize": "min",
    "minimise": "min",
    "minimum": "min",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


_FLOAT = TypeAdapter(float)

# A parameter value is a number, or a (possibly nested) list of numbers: coordinates such as (2, 2) or a list of
# locations. The JSON schema shown to the model stays "number" so that prompts (and tuned demos) do not change:
# lists are tolerated when the model writes them, not asked for.
ParameterValue = Annotated[float | list[Any], WithJsonSchema({"type": "number"})]


def _read_parameter_value(value: object, *, what: str) -> float | list[Any]:
    """A number as ``read_number`` reads it, or a list (tuples too) whose elements are read the same way."""
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(f"{what} is an empty list; write a number, e.g. 9.8")
        return [_read_parameter_value(item, what=f"{what}[{i}]") for i, item in enumerate(value)]
    # The scalar path is exactly a ``float`` field's (same conversions, same error messages).
    return _FLOAT.validate_python(read_number(value, what=what))


class Parameter(_Model):
    """A fixed constant of the problem, stated in the text (e.g. ``gravity = 9.8 m/s^2``).

    ``value`` is normally a float; a list of numbers (e.g. coordinates ``[2.0, 2.0]``) or a list of such lists is
    accepted too, and ``alamp.assemble.expand_parameters`` turns it into indexed scalar constants.
    """

    name: Identifier = Field(description="snake_case identifier, e.g. pole_length")
    value: ParameterValue = Field(description="numeric value as stated in the text")
    unit: str = Field(default="", description="unit, empty if none")
    description: str = Field(default="", description="one short sentence")
    symbol: str = Field(default="", description="the symbol the text's equations use for it, e.g. M or τ; may be empty")

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, v: object) -> str:
        return "" if v is None else str(v)

    @field_validator("value", mode="plain")
    @classmethod
    def _value(cls, v: object) -> float | list[Any]:
        return _read_parameter_value(v, what="parameter value")


class SymbolConstant(_Model):
    """Which constant one symbol of a description's formulas stands for (``signatures/symbol_value.py``)."""

    # Required, and named to sort first: the grammar orders an object's properties by name, and a pick decoded
    # before the "what it is" was right in 13 of 30 answers on the train/dev symbols (23 of 33 with it first).
    quantity: str = Field(description="what the symbol stands for, in a few words")
    which_constant: Annotated[str, CHOICE] = Field(
        description="the name of the constant it is, from the list given, or none if it is none of them"
    )


class Objective(_Model):
    """What the controller should maximise or minimise."""

    name: Identifier = Field(description="snake_case identifier, e.g. keep_pole_upright")
    sense: Literal["max", "min"] = Field(description="max or min")
    expression: str = Field(default="", description="formula over parameters and variables, if one is stated")
    description: str = Field(default="", description="one short sentence")
    weight: float = Field(default=1.0, description="relative weight when there are several objectives")

    @field_validator("sense", mode="before")
    @classmethod
    def _sense(cls, v: str) -> str:
        key = str(v).strip().lower()
        if key not in _SENSES:
            raise ValueError(f"objective sense {v!r} must be 'max' or 'min'")
        return _SENSES[key]


class Variable(_Model):
    """A quantity that changes: part of the state, an action, or an exogenous random input."""

    name: Identifier = Field(description="snake_case identifier, e.g. cart_velocity")
    role: Literal["state", "action", "exogenous"] = Field(description="state, action or exogenous")
    domain: Literal["continuous", "integer", "binary", "categorical"] = Field(default="continuous")
    low: float | None = Field(default=None, description="lowest allowed value (a bound, not the start value)")
    high: float | None = Field(default=None, description="highest allowed value (a bound, not the start value)")
    initial: Annotated[str, SPEC_EXPRESSION] = Field(
        default="", description="start value or distribution, e.g. 0 or uniform(-0.05, 0.05)"
    )
    description: str = Field(default="", description="one short sentence")
    symbol: str = Field(
        default="", description="the symbol the text's formulas use for it, e.g. x_dot or T_in; may be empty"
    )

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, v: object) -> str:
        return "" if v is None else str(v)

    @field_validator("role", "domain", mode="before")
    @classmethod
    def _lower(cls, v: str) -> str:
        text = str(v).strip().lower()
        return {
            "exogenous_input": "exogenous",
            "random": "exogenous",
            "control": "action",
            "discrete": "integer",
            "real": "continuous",
            "bool": "binary",
            "boolean": "binary",
        }.get(text, text)

    @field_validator("initial", mode="before")
    @classmethod
    def _initial(cls, v: object) -> str:
        return "" if v is None else str(v)

    @field_validator("low", "high", mode="before")
    @classmethod
    def _bound(cls, v: object, info: ValidationInfo) -> object:
        if isinstance(v, str) and v.strip().lower() in ("", "none", "null"):
            return None
        return read_number(v, what=f"bound {info.field_name}")

    @model_validator(mode="after")
    def _bounds(self) -> Variable:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(
                f"variable {self.name!r} has low={self.low} > high={self.high}; low must be the smallest allowed value"
            )
        return self


class Constraint(_Model):
    """A rule the system must respect: a hard limit, a soft penalty, or a condition that ends the episode."""

    expression: Annotated[str, SPEC_EXPRESSION] = Field(
        description="condition over parameters and variables, e.g. abs(pole_angle) <= 0.2095"
    )
    kind: Literal["hard", "soft", "termination"] = Field(description="hard, soft or termination")
    description: str = Field(default="", description="one short sentence")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: str) -> str:
        text = str(v).strip().lower()
        return {"terminal": "termination", "terminate": "termination", "penalty": "soft"}.get(text, text)


class MDPModel(_Model):
    """The formal MDP: state and action spaces, transition equations, reward, discount, horizon, termination."""

    states: list[str] = Field(description="state variable names, in observation order")
    actions: list[str] = Field(description="discrete action names, in order")
    transitions: list[str] = Field(description="one equation per line, e.g. x_next = x + tau * x_dot")
    reward: str = Field(description="reward expression or description")
    discount: float = Field(default=0.99, ge=0.0, le=1.0)
    horizon: int = Field(default=500, gt=0, description="maximum steps per episode")
    termination: list[str] = Field(default_factory=list, description="conditions that end an episode")
    # Not shown to the model (no schema): set when it wrote the horizon as a parameter's name, which assembly resolves.
    horizon_parameter: SkipJsonSchema[str] = Field(default="", exclude_if=lambda v: not v)

    @field_validator("horizon", mode="before")
    @classmethod
    def _horizon(cls, v: object) -> object:
        number = read_number(v, what="horizon")  # "200 steps", "2e2"
        return int(number) if isinstance(number, float) and number.is_integer() else number

    @model_validator(mode="before")
    @classmethod
    def _horizon_by_name(cls, data: Any) -> Any:
        """``"horizon": max_steps`` names a parameter: keep the name, and the default until assembly resolves it."""
        if not isinstance(data, dict) or not isinstance(data.get("horizon"), str):
            return data
        text = data["horizon"].strip()
        try:
            read_number(text, what="horizon")
        except ValueError:
            if _NAME.fullmatch(text):
                data = {k: v for k, v in data.items() if k != "horizon"}
                data["horizon_parameter"] = to_identifier(text)
        return data

    @field_validator("states", "actions", mode="after")
    @classmethod
    def _names(cls, v: list[str], info: ValidationInfo) -> list[str]:
        names = [to_identifier(x) for x in v]
        check_unique(names, info.field_name.rstrip("s"))
        if not names:
            raise ValueError(f"the MDP needs at least one {info.field_name.rstrip('s')}")
        return names

    def to_latex(
        self, *, parameters: list[Parameter] | None = None, objectives: list[Objective] | None = None
    ) -> str:
        """Render the model as Markdown with LaTeX maths (each expression typeset by :mod:`alamp.typeset`; text that
        is not an expression stays as written, in ``\\text``).

        Args:
            parameters: Also list the parameters (name = value unit).
            objectives: Also state the objective (max/min of its expression).
        """
        from alamp.typeset import typeset

        def tex(text: str) -> str:
            out = typeset(text).latex
            return out if out is not None else r"\text{" + "".join(_TEX_ESCAPES.get(c, c) for c in text) + "}"

        lines = ["## Formal MDP", ""]
        if objectives:
            lines += ["**Objective**", ""]
            lines += [rf"- $$\{o.sense} \; {tex(o.expression or o.name)}$$" for o in objectives] + [""]
        if parameters:
            lines += ["**Parameters**", ""]
            lines += [f"- $${tex(p.name)} = {p.value}$$ {p.unit}".rstrip() for p in parameters] + [""]
        lines += [
            rf"$$\mathcal{{S}} = ({', '.join(tex(s) for s in self.states)})$$",
            "",
            rf"$$\mathcal{{A}} = \{{{', '.join(tex(a) for a in self.actions)}\}}$$",
            "",
            "**Transitions**",
            "",
        ]
        lines += [f"- $${tex(eq)}$$" for eq in self.transitions] or ["- (none stated)"]
        lines += ["", f"**Reward** $$r = {tex(self.reward)}$$", "", rf"**Discount** $$\gamma = {self.discount}$$", ""]
        horizon = tex(self.horizon_parameter) if self.horizon_parameter else self.horizon
        lines += [f"**Horizon** $$H = {horizon}$$", "", "**Termination**", ""]
        lines += [f"- $${tex(c)}$$" for c in self.termination] or ["- horizon only"]
        return "\n".join(lines) + "\n"


_TEX_ESCAPES = {c: "\\" + c for c in "_{}%#$&"} | {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


class SARAction(_Model):
    """One discrete action and what it does."""

    name: Identifier = Field(description="snake_case identifier, e.g. push_left")
    effect: Annotated[str, SPEC_ASSIGNMENTS] = Field(
        default="", description="its effect as an assignment, e.g. force = -force_mag"
    )

    @field_validator("effect", mode="before")
    @classmethod
    def _effect_from_mapping(cls, v: object) -> object:
        # {"order": 4, "cost": 8} for "order = 4; cost = 8": a mapping of targets to values is unambiguous.
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return "; ".join(f"{k} = {value}" for k, value in v.items())
        return v


class SARSpec(_Model):
    """State, action and reward as the controller sees them: the interface a policy is trained and graded on.

    Validate with ``SARSpec.model_validate(data, context={"known_names": {...}})`` to also check that the reward
    names at least one known quantity.
    """

    observations: list[str] = Field(description="observed quantities, in order")
    actions: list[SARAction] = Field(description="discrete actions, in order")
    reward: Annotated[str, SPEC_EXPRESSION] = Field(description="reward expression over known quantities")

    @field_validator("observations", mode="after")
    @classmethod
    def _obs(cls, v: list[str]) -> list[str]:
        names = [to_identifier(x) for x in v]
        if not names:
            raise ValueError("observations is empty; list the quantities the controller observes, in order")
        check_unique(names, "observation")
        return names

    @field_validator("actions", mode="before")
    @classmethod
    def _actions_from_strings(cls, v: object) -> object:
        # ["push_left", ...] or ["push_left: force = -force_mag", ...]: a bare name (optionally with its effect
        # after a colon) is an unambiguous action, so take it rather than fail the whole SAR output.
        if not isinstance(v, list):
            return v
        items: list[object] = []
        for item in v:
            if isinstance(item, str):
                name, _, effect = item.partition(":")
                items.append({"name": name, "effect": effect.strip()})
            else:
                items.append(item)
        return items

    @field_validator("actions", mode="after")
    @classmethod
    def _actions(cls, v: list[SARAction]) -> list[SARAction]:
        if not v:
            raise ValueError("actions is empty; list the discrete actions the controller can take, in order")
        check_unique([a.name for a in v], "action")
        return v

    @model_validator(mode="after")
    def _reward_names_known(self, info: ValidationInfo) -> SARSpec:
        known = (info.context or {}).get("known_names") if info is not None else None
        if known:
            import re

            used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", self.reward))
            if not (used & set(known)) and not _is_number(self.reward):
                raise ValueError(
                    f"reward {self.reward!r} names no known quantity; use names from: {sorted(known)[:30]}"
                )
        return self


class ExecutionReport(_Model):
    """What the Code Executor found when it ran an environment through its checks.

    ``stage_failed`` names the first check that failed (``import``, ``construct``, ``check_env``, ``step``,
    ``spaces``, ``timeout``, ``sandbox``, ``spec``); ``error`` is written for the Repair agent to act on.
    """

    passed: bool
    stage_failed: str | None = None
    error: str = ""
    obs_dim: int | None = None
    n_actions: int | None = None
    steps: int = 0
    seconds: float = 0.0
    isolation: str | None = None
    warning: str = ""


class GeneratedCode(_Model):
    """An environment's source and the report of its checks; ``path`` says which route produced it."""

    code: str
    path: Literal["compiler", "llm"]
    report: ExecutionReport | None = None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
