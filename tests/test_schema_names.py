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
