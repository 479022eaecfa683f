"""Forgiving name normalisation: symbols a small model copies from maths-heavy text become plain identifiers."""

import pytest

from alamp.schema import Variable
from alamp.schema._names import to_identifier
from alamp.spec import compile_spec
from alamp.spec.examples import cartpole_spec


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("θ", "theta"), ("ẋ", "x_dot"), ("θ̇", "theta_dot"), ("ẍ", "x_ddot"), ("Δt", "Delta_t"), ("μ_c", "mu_c"),
     ("Pole length (m)", "Pole_length_m"), ("x'", "x"), ("2nd", "v_2nd"), ("lambda", "lambda_")],
)
def test_to_identifier_spells_out_symbols(raw: str, expected: str) -> None:
    assert to_identifier(raw) == expected


def test_symbol_only_name_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="snake_case"):
        to_identifier("→")


def test_variable_with_greek_name_validates() -> None:
    var = Variable.model_validate({"name": "θ̇", "role": "state", "low": -10, "high": 10})
    assert var.name == "theta_dot"


def test_spec_expressions_with_symbols_compile_to_the_spelled_names() -> None:
    spec = cartpole_spec().model_copy(deep=True)
    spec.reward = "1.0 + 0 * θ"
    compiled = compile_spec(spec)
    assert any("θ -> theta" in note for note in compiled.normalisations)


@pytest.mark.parametrize(
    ("written", "python"),
    [("|x| > 2.4", "abs(x) > 2.4"), ("masscart * cos²(theta)", "masscart * cos(theta) ** 2"), ("x² + 1", "x ** 2 + 1"),
     ("abs(x) ≤ 2", "abs(x) <= 2"), ("2 × x − 1", "2 * x - 1")],
)
def test_textbook_notation_is_rewritten_and_recorded(written: str, python: str) -> None:
    spec = cartpole_spec().model_copy(deep=True)
    spec.reward = f"0 * ({written}) + 1"
    compiled = compile_spec(spec)
    assert any("maths notation" in note and python.replace(" ", "") in note.replace(" ", "")
               for note in compiled.normalisations), compiled.normalisations


def test_bitwise_or_between_conditions_is_not_read_as_abs_bars() -> None:
    spec = cartpole_spec().model_copy(deep=True)
    spec.terminated = ["(x > 2.4) | (x < -2.4)"]
    compiled = compile_spec(spec)
    assert not any("maths notation" in note for note in compiled.normalisations)


@pytest.mark.parametrize(
    ("written", "python"),
    [("m·cos²θ / M", "m*cos(θ)**2 / M"), ("g·sin θ − 1", "g*sin(θ) - 1"), ("a && b", "a  and  b"),
     ("x ← x + 1", "x = x + 1"), ("sine + cost", "sine + cost")],
)
def test_textbook_function_application_and_operators(written: str, python: str) -> None:
    from alamp.spec.expr import _rewrite_maths_notation

    assert _rewrite_maths_notation(written) == python


def test_sar_actions_written_as_strings_are_taken_with_their_effects() -> None:
    from alamp.schema import SARSpec

    sar = SARSpec.model_validate({"observations": ["x"], "reward": "-x",
                                  "actions": ["serve user 1", "push_left: force = -force_mag"]})
    assert [a.name for a in sar.actions] == ["serve_user_1", "push_left"]
    assert sar.actions[1].effect == "force = -force_mag"


def test_sar_actions_still_refuse_duplicates() -> None:
    from alamp.schema import SARSpec

    with pytest.raises(ValueError, match="duplicate action"):
        SARSpec.model_validate({"observations": ["x"], "reward": "-x", "actions": ["left", "left"]})


@pytest.mark.parametrize(
    ("written", "value"),
    [("0.5 m", 0.5), ("1,000", 1000.0), ("-np.pi/2", -1.5707963267948966), ("12 * pi / 180", 0.20943951023931953),
     ("2**3", 8.0), (" 9.8 ", 9.8)],
)
def test_numbers_written_as_text_are_read(written: str, value: float) -> None:
    from alamp.schema import Parameter

    assert Parameter(name="p", value=written).value == pytest.approx(value)
    assert Variable(name="v", role="state", low=written, high=1e9).low == pytest.approx(value)


@pytest.mark.parametrize("written", ["abc", "__import__('os')", "10**10**10", "x + 1"])
def test_text_that_is_no_number_is_refused_with_a_hint(written: str) -> None:
    from alamp.schema import Parameter

    with pytest.raises(ValueError, match="not a number"):
        Parameter(name="p", value=written)


def test_empty_bound_means_unbounded() -> None:
    assert Variable(name="v", role="state", low="", high="none").low is None
