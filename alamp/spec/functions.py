"""The one table of the spec language's functions: name, arity, arguments, and how each backend computes it.

Read by the parser (:mod:`alamp.spec.expr`: the whitelist, arities, keyword names), constant folding
(:mod:`alamp.spec.analysis`), the code generators (:mod:`alamp.spec.codegen`: numpy, scalar Python, numba), the numba
kernels' namespace (:mod:`alamp.spec.numba_backend`), assembly (reserved names, formulas in the text) and the metric
(function names are not quantities of a reward). The Env agent's prompt names the functions marked
``in_env_prompt``; tests/test_spec_functions.py checks that every reader agrees with this table.

Kinds, and what the backends do with them:

- ``elementwise``: one number in, one out. numpy code and constant folding call ``numpy.<numpy>``; scalar code calls
  ``scalar`` on Python floats (it may raise, and then the step is redone with numpy); numba kernels call the
  ``numba`` spelling, bound to ``numba_impl`` in their namespace unless it is a ``_np.`` attribute.
- ``reduce`` (``min``, ``max``): folded pairwise with ``numpy.minimum``/``maximum`` (nan propagates).
- ``clip``: ``minimum(maximum(x, low), high)`` everywhere (so ``low > high`` gives ``high``, as numpy does).
- ``where``: a conditional expression, ``numpy.where`` on arrays.
- ``random``: a draw from the env's generator; each backend has its own sampler of the same distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "SPEC_FUNCTIONS",
    "FunctionKind",
    "SpecFunction",
    "bare_call_names",
    "deterministic_function_names",
    "elementwise_functions",
    "env_prompt_function_names",
    "function_names",
    "numba_helpers",
    "scalar_helpers",
]

FunctionKind = Literal["elementwise", "reduce", "clip", "where", "random"]


def scalar_sign(x: float) -> float:
    """``numpy.sign`` on a Python float: keeps nan and the sign of zero."""
    return 1.0 if x > 0 else -1.0 if x < 0 else x * 0.0 if x == x else x


def _scalar_floor(x: float) -> float:
    return float(math.floor(x))


def _scalar_ceil(x: float) -> float:
    return float(math.ceil(x))


def _scalar_round(x: float) -> float:
    return float(round(x))  # half to even, as numpy.round


@dataclass(frozen=True)
class SpecFunction:
    """One function of the spec language.

    Attributes:
        name: Its name in expressions.
        kind: How the backends compute it (see the module docstring).
        min_args: Fewest positional arguments.
        max_args: Most positional arguments (None: any number).
        params: Argument names, for keyword arguments (``clip(x, low=0, high=1)``).
        defaults: Values of the trailing ``params`` that may be left out.
        synonyms: Other keyword names models write (``a_min`` for ``low``).
        doc: What it computes, in a few words (for prompts and docs).
        numpy: ``elementwise``: the numpy function (``numpy.<numpy>``).
        scalar: ``elementwise``: the implementation on Python floats.
        numba: ``elementwise``: its spelling in numba kernels (``_sin``, ``_np.floor``).
        numba_impl: ``elementwise``: what that spelling is bound to in the kernels' namespace (None for ``_np.*``).
        bare_call: Textbook notation without parentheses is read as a call (``sin θ`` -> ``sin(θ)``).
        in_env_prompt: Named in the Env agent's prompt (signatures/env.py) as one of the math functions to use.
    """

    name: str
    kind: FunctionKind
    min_args: int
    max_args: int | None
    params: tuple[str, ...] = ()
    defaults: tuple[float, ...] = ()
    synonyms: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""
    numpy: str = ""
    scalar: Callable[[float], float] | None = None
    numba: str = ""
    numba_impl: Callable[[float], float] | None = None
    bare_call: bool = False
    in_env_prompt: bool = False

    @property
    def random(self) -> bool:
        """A draw of a random number."""
        return self.kind == "random"


def _elementwise(
    name: str,
    doc: str,
    *,
    scalar: Callable[[float], float],
    numba: str,
    numba_impl: Callable[[float], float] | None = None,
    numpy: str | None = None,
    bare_call: bool = False,
    in_env_prompt: bool = False,
) -> SpecFunction:
    return SpecFunction(
        name=name, kind="elementwise", min_args=1, max_args=1, params=("x",), doc=doc, numpy=numpy or name,
        scalar=scalar, numba=numba, numba_impl=numba_impl, bare_call=bare_call, in_env_prompt=in_env_prompt,
    )  # fmt: skip


_TABLE = (
    _elementwise("sin", "sine (radians)", scalar=math.sin, numba="_sin", numba_impl=math.sin, bare_call=True,
                 in_env_prompt=True),
    _elementwise("cos", "cosine (radians)", scalar=math.cos, numba="_cos", numba_impl=math.cos, bare_call=True,
                 in_env_prompt=True),
    _elementwise("tan", "tangent (radians)", scalar=math.tan, numba="_tan", numba_impl=math.tan, bare_call=True),
    _elementwise("tanh", "hyperbolic tangent", scalar=math.tanh, numba="_tanh", numba_impl=math.tanh,
                 bare_call=True),
    _elementwise("exp", "e to the power x", scalar=math.exp, numba="_exp", numba_impl=math.exp, bare_call=True),
    _elementwise("log", "natural logarithm", scalar=math.log, numba="_log", numba_impl=math.log, bare_call=True),
    _elementwise("sqrt", "square root", scalar=math.sqrt, numba="_sqrt", numba_impl=math.sqrt, bare_call=True,
                 in_env_prompt=True),
    _elementwise("abs", "absolute value", scalar=abs, numba="_fabs", numba_impl=math.fabs, in_env_prompt=True),
    _elementwise("floor", "largest whole number <= x", scalar=_scalar_floor, numba="_np.floor"),
    _elementwise("ceil", "smallest whole number >= x", scalar=_scalar_ceil, numba="_np.ceil"),
    _elementwise("round", "nearest whole number (halves to even)", scalar=_scalar_round, numba="_np.rint"),
    _elementwise("sign", "-1, 0 or 1", scalar=scalar_sign, numba="_np.sign"),
    SpecFunction("min", "reduce", 2, None, doc="smallest argument", in_env_prompt=True),
    SpecFunction("max", "reduce", 2, None, doc="largest argument", in_env_prompt=True),
    SpecFunction(
        "clip", "clip", 3, 3, ("x", "low", "high"), doc="x limited to [low, high]", in_env_prompt=True,
        synonyms={"a": "x", "a_min": "low", "lo": "low", "min": "low", "a_max": "high", "hi": "high", "max": "high"},
    ),
    SpecFunction("where", "where", 3, 3, ("condition", "x", "y"), doc="x if condition else y",
                 synonyms={"cond": "condition", "c": "condition"}),
    SpecFunction("uniform", "random", 0, 2, ("low", "high"), (0.0, 1.0), doc="uniform draw in [low, high)",
                 synonyms={"a": "low", "b": "high", "lo": "low", "hi": "high"}),
    SpecFunction("normal", "random", 0, 2, ("loc", "scale"), (0.0, 1.0), doc="normal draw (mean, standard deviation)",
                 synonyms={"mean": "loc", "mu": "loc", "std": "scale", "sigma": "scale", "sd": "scale"}),
    SpecFunction("poisson", "random", 1, 1, ("lam",), doc="Poisson draw with mean lam",
                 synonyms={"mean": "lam", "rate": "lam", "mu": "lam", "lambda_": "lam"}),
    SpecFunction("bernoulli", "random", 1, 1, ("p",), doc="1 with probability p, else 0",
                 synonyms={"prob": "p", "probability": "p"}),
    SpecFunction("integers", "random", 1, 2, ("low", "high"),
                 doc="whole number drawn from [low, high); integers(high) from [0, high)",
                 synonyms={"lo": "low", "hi": "high"}),
    SpecFunction("choice", "random", 1, None, doc="one of the arguments, each equally likely"),
)  # fmt: skip

SPEC_FUNCTIONS: Mapping[str, SpecFunction] = MappingProxyType({f.name: f for f in _TABLE})
"""Name -> function, in the order error messages list them."""


def function_names() -> tuple[str, ...]:
    """Every function name of the spec language, in table order (what an expression grammar allows as a call)."""
    return tuple(SPEC_FUNCTIONS)


def deterministic_function_names() -> frozenset[str]:
    """The functions that draw nothing."""
    return frozenset(name for name, f in SPEC_FUNCTIONS.items() if not f.random)


def elementwise_functions() -> tuple[SpecFunction, ...]:
    """The one-number-in, one-number-out functions."""
    return tuple(f for f in SPEC_FUNCTIONS.values() if f.kind == "elementwise")


def bare_call_names() -> tuple[str, ...]:
    """Functions whose textbook notation without parentheses (``sin θ``) is read as a call."""
    return tuple(f.name for f in SPEC_FUNCTIONS.values() if f.bare_call)


def env_prompt_function_names() -> tuple[str, ...]:
    """The math functions the Env agent's prompt names."""
    return tuple(f.name for f in SPEC_FUNCTIONS.values() if f.in_env_prompt)


def scalar_helpers() -> dict[str, Callable[[float], float]]:
    """``_<name>`` -> Python-float implementation of each elementwise function, for the scalar code's namespace."""
    return {f"_{f.name}": f.scalar for f in elementwise_functions() if f.scalar is not None}


def numba_helpers() -> dict[str, Callable[[float], float]]:
    """Spelling -> implementation of the elementwise functions numba kernels call by a name of their own."""
    return {f.numba: f.numba_impl for f in elementwise_functions() if f.numba_impl is not None}
