"""Hostile or broken expressions are refused at compile time or contained at run time; random specs never crash."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alamp.spec import SpecError, compile_spec, emit_python
from alamp.spec.expr import has_random


def one_variable_spec(update: str = "x + 1", reward: str = "x", **overrides: object) -> dict:
    spec = {
        "id": "alamp/Hostile-v0",
        "constants": {"k": 2.0, "zero": 0.0},
        "state": [{"name": "x", "low": -10, "high": 10, "init": "uniform(-1, 1)"}],
        "actions": [{"name": "a"}, {"name": "b"}],
        "updates": [{"target": "x", "expr": update}],
        "reward": reward,
        "max_steps": 50,
    }
    spec.update(overrides)
    return spec


REFUSED = {
    "__import__('os').system('echo pwned')": "not an allowed function",
    "os.system('ls')": "not an allowed function",
    "x.__class__": "attribute access",
    "().__class__.__bases__[0]": "subscripts",
    "[x][0]": "subscripts",
    "(lambda: 1)()": "lambda",
    "[i for i in range(3)]": "comprehensions",
    "sum(i for i in range(10))": "not an allowed function",
    "10 ** 10 ** 10": "exponent",
    "x ** 1000": "exponent",
    "1 / 0": "divides by zero",
    "x / zero": "divides by zero",
    "x % 0": "divides by zero",
    "sqrt(-1)": "invalid value",
    "log(-k)": "invalid value",
    "nan": "nan is not allowed",
    "x + unknown_thing": "unknown name 'unknown_thing'",
    "eval('1')": "not an allowed function",
    "open('/etc/passwd')": "not an allowed function",
    "x if (y := 3) else 1": "walrus",
    "f'{x}'": "f-strings",
    "{'a': 1}": "dicts",
    "x @ x": "MatMult",
    "x << 2": "LShift",
    "x is None": "IsNot" if False else "comparison Is",
    "'hello'": "is a string",
    "x ^ 2": "'**'",
    "x & 1": "bitwise operators",
    "_secret": "reserved",
    "sin(x, 2)": "takes 1 argument",
    "uniform(1, 2, 3)": "takes 0 to 2",
    "clip(x, a_min=0, foo=1)": "no argument 'foo'",
    "poisson(-1)": "rate",
    "bernoulli(2)": "probability",
    "integers(5, 1)": "low < high",
    "x = ": "not a valid Python expression",
    "import os": "statement",
    "y = x + 1": "assigns to 'y'",
    "x + 1; x + 2": "statements",
    "(" * 300 + "1" + ")" * 300: "nested parentheses",
    " + ".join(["x"] * 700): "characters long",
    " + ".join(["x"] * 400): "too complex",
    "-" * 1500 + "x": "too complex",
}


@pytest.mark.parametrize(("expression", "expected"), list(REFUSED.items()), ids=[f"h{i}" for i in range(len(REFUSED))])
def test_hostile_expression_is_refused_with_a_clear_message(expression: str, expected: str) -> None:
    with pytest.raises(SpecError) as error:
        compile_spec(one_variable_spec(update=expression))
    text = " ".join(error.value.problems)
    assert "updates[0]" in text
    assert expected in text, text


def test_very_long_expression_is_refused() -> None:
    with pytest.raises(SpecError, match="characters long"):
        compile_spec(one_variable_spec(update="x" + " + 1" * 1000))


def test_hostile_code_does_not_run(tmp_path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(SpecError):
        compile_spec(one_variable_spec(update=f"__import__('pathlib').Path('{marker}').touch()"))
    assert not marker.exists()


RUNTIME = {
    "division by zero": ("x / (x - x)", "x"),
    "overflow": ("exp(exp(x + 10))", "x"),
    "log of a negative number": ("log(-abs(x) - 1)", "x"),
    "sqrt of a negative number": ("sqrt(x - 100)", "x"),
    "negative base to a fractional power": ("(x - 50) ** 0.5", "x"),
    "poisson with a negative rate": ("poisson(x - 100)", "x"),
    "nan in the reward only": ("x", "log(x - 100)"),
}


@pytest.mark.parametrize(("update", "reward"), list(RUNTIME.values()), ids=list(RUNTIME))
def test_runtime_numerical_errors_are_contained(update: str, reward: str) -> None:
    compiled = compile_spec(one_variable_spec(update=update, reward=reward))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # even with warnings as errors, nothing escapes but our own warning
        warnings.filterwarnings("ignore", message=".*numerical error.*")
        env = compiled.make_env()
        env.reset(seed=0)
        obs, reward_value, terminated, truncated, info = env.step(0)
        assert terminated and "numerical_error" in info and "episode was terminated" in info["numerical_error"]
        assert np.isfinite(obs).all() and np.isfinite(reward_value)
        venv = compiled.make_vec(8)
        venv.reset(seed=0)
        obs, rewards, terminated, _, info = venv.step(np.zeros(8, dtype=np.int64))
        assert terminated.all() and info["numerical_error"].all()
        assert np.isfinite(obs).all() and np.isfinite(rewards).all()
        obs, _, _, _, _ = venv.step(np.zeros(8, dtype=np.int64))  # the envs were reset and go on
        assert np.isfinite(obs).all()


def test_containment_only_hits_the_bad_envs() -> None:
    compiled = compile_spec(one_variable_spec(update="1 / x"))
    venv = compiled.make_vec(4)
    venv.reset(seed=0)
    venv.set_state(np.array([[0.0], [1.0], [2.0], [4.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs, _, terminated, _, info = venv.step(np.zeros(4, dtype=np.int64))
    assert terminated.tolist() == [True, False, False, False]
    np.testing.assert_allclose(obs[1:, 0], [1.0, 0.5, 0.25])


def test_where_branch_not_taken_does_not_trip_containment() -> None:
    compiled = compile_spec(one_variable_spec(update="1 / x if x != 0 else 0"))
    venv = compiled.make_vec(3)
    venv.reset(seed=0)
    venv.set_state(np.array([[0.0], [2.0], [4.0]]))
    obs, _, terminated, _, info = venv.step(np.zeros(3, dtype=np.int64))
    assert not terminated.any() and "numerical_error" not in info
    np.testing.assert_allclose(obs[:, 0], [0.0, 0.5, 0.25])


# ------------------------------------------------------------------------------------ property test

FUNCS_1 = ["sin", "cos", "tanh", "exp", "log", "sqrt", "abs", "floor", "ceil", "round", "sign", "np.sin", "math.exp"]
FUNCS_2 = ["min", "max", "uniform", "normal", "integers"]
FUNCS_3 = ["clip", "where"]
# mostly valid operators; '^' and '&' between numbers are refused, '|' between conditions is normalised
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", ">", "==", "!=", "and", "or"] * 3 + ["^", "&", "|"]


def expressions(names: list[str]) -> st.SearchStrategy[str]:
    """Random expressions over ``names`` (plus, rarely, an unknown name)."""
    return _expressions(tuple(names))


@functools.cache
def _expressions(names: tuple[str, ...]) -> st.SearchStrategy[str]:  # built once: hypothesis validates each new one
    leaves = st.one_of(
        st.sampled_from(names),
        st.floats(-1e3, 1e3, allow_nan=False).map(repr),
        st.integers(-5, 70).map(str),
        st.sampled_from(["True", "false", "'2.5'", "np.pi", "inf", "bernoulli(0.5)", "poisson(c)", "unknown"]),
    )

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(BINOPS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["-", "not ", "~", "+"]), children).map(lambda t: f"({t[0]}{t[1]})"),
            st.tuples(st.sampled_from(FUNCS_1), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(FUNCS_2), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(st.sampled_from(FUNCS_3), children, children, children).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]}, {t[3]})"
            ),
            st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.tuples(children, children, children).map(lambda t: f"({t[0]} < {t[1]} <= {t[2]})"),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: f"choice([{', '.join(xs)}])"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


@st.composite
def random_specs(draw: st.DrawFn) -> dict:
    """Mostly well-scoped random specs (names used where they exist), so that many of them compile."""
    constants = ["k", "c", "pi"]
    has_draw = draw(st.booleans())
    step_names = ["x", "y", "k", "c", "action"] + (["q"] if has_draw else [])
    with_zz = draw(st.booleans())
    n_actions = draw(st.integers(1, 3))
    actions = []
    for i in range(n_actions):
        updates = [{"target": "x", "expr": draw(expressions(step_names))}]
        if with_zz:
            updates.append({"target": "zz", "expr": draw(expressions([*step_names, "x"]))})
        actions.append({"name": f"act{i}", "updates": updates})
    later = step_names + (["zz"] if with_zz else [])
    return {
        "id": "alamp/Random-v0",
        "constants": {"k": draw(st.floats(-3, 3)), "c": draw(st.floats(0, 5))},
        "state": [
            {"name": "x", "low": -5, "high": 5, "init": draw(expressions(constants)), "clip": draw(st.booleans())},
            {"name": "y", "low": draw(st.sampled_from([-1.0, float("-inf")])), "high": 1e6, "init": "0"},
        ],
        "draws": [{"name": "q", "expr": draw(expressions(["x", "y", "k", "c"]))}] if has_draw else [],
        "actions": actions,
        "updates": [
            {"target": "y", "expr": draw(expressions(later))},
            {"target": "x", "expr": draw(expressions(later))},
        ],
        "reward": draw(expressions(later)),
        "terminated": [draw(expressions(later)) for _ in range(draw(st.integers(0, 3)))],
        "observation": draw(st.sampled_from([[], ["x", "y"], ["x * 2", "sin(y)"]])),
        "max_steps": draw(st.integers(1, 20)),
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs(), actions=st.lists(st.integers(0, 2), min_size=1, max_size=12))
def test_random_specs_compile_or_raise_spec_error_and_run_contained(spec: dict, actions: list[int]) -> None:
    try:
        compiled = compile_spec(spec)
    except SpecError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
        return
    n = compiled.action_space.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = compiled.make_env()
        obs, _ = env.reset(seed=0)
        assert obs.shape == compiled.observation_space.shape
        venv = compiled.make_vec(5)
        venv.reset(seed=0)
        for action in actions:
            obs, reward, _, _, _ = env.step(action % n)
            assert np.isfinite(obs).all() and np.isfinite(reward)
            obs, rewards, _, _, _ = venv.step(np.full(5, action % n))
            assert obs.shape == (5, *compiled.observation_space.shape)
            assert np.isfinite(rewards).all()
        assert isinstance(emit_python(spec), str)
        if not any(has_random(step.tree) for step in _all_steps(compiled)):
            _assert_single_and_batched_agree(compiled, actions)


def _all_steps(compiled):
    program = compiled.program
    yield from (*program.init, *program.draws, *program.updates, program.reward, *program.terminated)
    for action in program.actions:
        yield from action.updates


def _assert_single_and_batched_agree(compiled, actions: list[int]) -> None:
    """Without randomness, the scalar code (single env) and the numpy code (batch of 5) compute the same steps."""
    n = compiled.action_space.n
    env = compiled.make_env()
    venv = compiled.make_vec(5)
    env.reset(seed=0)
    venv.reset(seed=0)
    states = np.array([[-4.0, 0.0], [-0.5, 3.0], [0.0, -1.0], [1.5, 2.0], [4.9, 1e5]])
    for action in actions:
        venv.set_state(states)
        _, rewards, terminated, truncated, info = venv.step(np.full(5, action % n))
        for i, state in enumerate(states):
            env.set_state(state)
            _, reward, term, _, single_info = env.step(action % n)
            assert term == terminated[i]
            assert ("numerical_error" in single_info) == bool(info.get("numerical_error", np.zeros(5))[i])
            np.testing.assert_allclose(reward, rewards[i], rtol=1e-9, atol=1e-9)
            if not (term or truncated[i]):  # otherwise the batch has already reset that env
                np.testing.assert_allclose(env.get_state(), venv.get_state()[i], rtol=1e-9, atol=1e-9)
