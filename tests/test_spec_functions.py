"""The one table of the spec language's functions (alamp.spec.functions) and every place that reads it agree."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from alamp.assembly.names import reserved_names
from alamp.schema import EnvSpec
from alamp.spec import compile_spec
from alamp.spec.expr import FUNCTIONS, RANDOM_FUNCTIONS, parse_expression
from alamp.spec.functions import (
    SPEC_FUNCTIONS,
    bare_call_names,
    deterministic_function_names,
    env_prompt_function_names,
    function_names,
)
from alamp.spec.numba_backend import numba_available

STARTS = {"u": 0.7, "v": -2.5, "w": 3.5}
"""Start values of the state variables the functions are applied to (``round(3.5)`` tests halves to even)."""


def _calls() -> dict[str, tuple[str, object]]:
    """One call per deterministic function (its argument a ``{0}`` slot), with its numpy reference."""
    calls: dict[str, tuple[str, object]] = {}
    for f in SPEC_FUNCTIONS.values():
        if f.kind == "elementwise":
            positive = f.name in ("log", "sqrt")  # a nan would end the episode at once: keep them in their domain
            argument = "({0} * {0} + 0.5)" if positive else "{0}"
            calls[f.name] = (f"{f.name}({argument})", lambda x, f=f, positive=positive: getattr(np, f.numpy)(
                x * x + 0.5 if positive else x))  # fmt: skip
    calls["min"] = ("min({0}, 0.3, 2)", lambda x: np.minimum(np.minimum(x, 0.3), 2))
    calls["max"] = ("max({0}, 0.3)", lambda x: np.maximum(x, 0.3))
    calls["clip"] = ("clip({0}, low=-1, high=1)", lambda x: np.clip(x, -1, 1))
    calls["where"] = ("where({0} > 0, {0}, -{0})", lambda x: np.where(x > 0, x, -x))
    return calls


def _spec(argument_is_state: bool) -> tuple[EnvSpec, np.ndarray]:
    """A spec observing every deterministic function of every start value, and the numpy reference."""
    calls = _calls()
    observation, expected = [], []
    for name, value in STARTS.items():
        for text, reference in calls.values():
            observation.append(text.format(name if argument_is_state else f"c_{name}"))
            expected.append(reference(np.float64(value)))
    spec = EnvSpec(
        id="alamp/Functions-v0",
        constants={f"c_{n}": v for n, v in STARTS.items()},
        state=[{"name": n, "low": -10, "high": 10, "init": repr(v)} for n, v in STARTS.items()],
        actions=[{"name": "wait"}],
        reward="0",
        observation=observation,
        max_steps=2,
    )
    return spec, np.asarray(expected, dtype=np.float32)


def test_the_table_is_the_parser_whitelist_and_names_every_function_once() -> None:
    assert FUNCTIONS is SPEC_FUNCTIONS
    assert function_names() == tuple(SPEC_FUNCTIONS) and len(set(function_names())) == len(function_names())
    assert RANDOM_FUNCTIONS == {n for n, f in SPEC_FUNCTIONS.items() if f.random}
    assert deterministic_function_names() | RANDOM_FUNCTIONS == set(function_names())
    assert set(_calls()) == deterministic_function_names()  # the backend test below covers every function
    assert set(function_names()) <= reserved_names()  # assembly never makes a constant of a function's name


@pytest.mark.parametrize("name", function_names())
def test_each_function_parses_with_its_arity_and_no_other(name: str) -> None:
    f = SPEC_FUNCTIONS[name]

    def parses(count: int) -> bool:
        problems: list[str] = []
        parse_expression(f"{name}({', '.join(['1'] * count)})", label="e", declared=set(), problems=problems,
                         normalisations=[])  # fmt: skip
        return not problems

    assert parses(f.min_args) and parses(f.max_args or f.min_args + 3)
    assert f.min_args == 0 or not parses(f.min_args - 1)
    assert f.max_args is None or not parses(f.max_args + 1)
    assert all(p in f.params for p in f.synonyms.values())
    assert len(f.defaults) <= len(f.params)


@pytest.mark.parametrize("argument_is_state", [True, False], ids=["state", "constant_folded"])
def test_every_backend_computes_every_function_as_numpy_does(argument_is_state: bool) -> None:
    spec, expected = _spec(argument_is_state)
    compiled = compile_spec(spec)
    single, _ = compiled.make_env().reset(seed=0)  # scalar code (Python floats), or folded constants
    np.testing.assert_allclose(single, expected, rtol=1e-6)
    batch, _ = compiled.make_vec(2, backend="numpy").reset(seed=0)  # numpy code
    np.testing.assert_allclose(batch, np.stack([expected, expected]), rtol=1e-6)
    if numba_available() and argument_is_state:
        kernels, _ = compiled.make_vec(2, backend="numba").reset(seed=0)
        np.testing.assert_allclose(kernels, np.stack([expected, expected]), rtol=1e-6)


def test_the_env_prompt_names_the_functions_the_table_marks() -> None:
    from alamp.signatures.env import EnvSignature

    listed = re.search(r"math functions \(([^)]*)\)", " ".join((EnvSignature.__doc__ or "").split()))
    assert listed is not None, "signatures/env.py no longer lists its math functions"
    assert tuple(name.strip() for name in listed.group(1).split(",")) == env_prompt_function_names()


def test_textbook_calls_cover_the_functions_plain_maths_reads() -> None:
    from alamp.mathtext import _FUNCTIONS as MATHTEXT_FUNCTIONS

    assert set(bare_call_names()) <= set(MATHTEXT_FUNCTIONS.split("|"))


def test_the_metric_does_not_count_function_names_as_reward_quantities() -> None:
    from alamp.metric import _reward_terms

    text = " + ".join(f"{name}(x_{i})" for i, name in enumerate(sorted(deterministic_function_names())))
    assert _reward_terms(text) == sorted(f"x_{i}" for i in range(len(deterministic_function_names())))
    assert math.isfinite(len(_reward_terms("np.abs(cost) + math.sqrt(waste)")))
    assert _reward_terms("np.abs(cost) + math.sqrt(waste)") == ["cost", "waste"]
