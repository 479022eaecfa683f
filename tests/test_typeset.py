"""alamp.typeset: the agents' Python-like text as MathML and LaTeX, written as a paper would."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from alamp.typeset import symbol_parts, typeset, typeset_assignment

_M = "{http://www.w3.org/1998/Math/MathML}"


def _text(ts) -> str:
    """The characters a reader sees, in order (the MathML must be well-formed XML)."""
    return "".join(ET.fromstring(ts.mathml).itertext())


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("theta", ("theta", None, False, [])),
        ("theta_dot", ("theta", "dot", False, [])),
        ("x_ddot_next", ("x", "ddot", True, [])),
        ("x_threshold", ("x", None, False, ["threshold"])),
        ("force_mag", ("force", None, False, ["mag"])),
        ("pole_mass_length", ("pole_mass_length", None, False, [])),  # several words stay one name
        ("theta_a_b", ("theta", None, False, ["a", "b"])),  # a greek letter keeps its subscripts
    ],
)
def test_names_are_split_the_way_a_paper_writes_them(name: str, parts: tuple) -> None:
    assert symbol_parts(name) == parts


def test_an_update_equation_keeps_the_authors_order_and_notation() -> None:
    ts = typeset("theta_dot_next = theta_dot + tau * thetaacc")
    assert ts.latex == r"{\dot{\theta}}' = \dot{\theta} + \tau \cdot \mathrm{thetaacc}"
    assert _text(ts) == "θ˙′=θ˙+τ·thetaacc"
    assert ts.markdown() == f"${ts.latex}$"


def test_subtraction_chains_and_fractions() -> None:
    assert typeset("a - b - c").latex == "a - b - c"  # not (a - b) - c, not reordered
    assert typeset("x_threshold - x/2").latex == r"x_{\mathrm{threshold}} - \frac{x}{2}"
    assert typeset("x^2 + 1").latex == "x^{2} + 1"  # ^ read as a power, with a power's precedence
    frac = ET.fromstring(typeset("(a + b) / (c * d)").mathml).find(f".//{_M}mfrac")
    assert frac is not None and len(list(frac)) == 2


def test_conditions_read_as_written() -> None:
    assert typeset("abs(x) > x_threshold or abs(theta) > theta_threshold").latex == (
        r"\left|{x}\right| > x_{\mathrm{threshold}} \vee \left|{\theta}\right| > \theta_{\mathrm{threshold}}"
    )
    assert typeset("0 <= position <= 10").latex == r"0 \leq \mathrm{position} \leq 10"
    assert typeset("a and (b or c)").latex == r"a \wedge \left(b \vee c\right)"
    assert typeset("not done").latex == r"\neg \mathrm{done}"
    assert typeset("1 if x > 0 else -0.5").latex == (
        r"\begin{cases} 1 & \text{if } x > 0 \\ -0.5 & \text{otherwise} \end{cases}"
    )


def test_comparison_operators_are_escaped_in_mathml() -> None:
    ts = typeset("a < b")
    assert "&lt;" in ts.mathml and _text(ts) == "a<b"


def test_functions_minus_signs_and_sympy_names() -> None:
    assert typeset("clip(position + move, 0, 10)").latex == (
        r"\operatorname{clip}\left(\mathrm{position} + \mathrm{move}, 0, 10\right)"
    )
    assert typeset("max(c, 2)").latex == r"\max\left(c, 2\right)"  # not sorted to max(2, c)
    assert _text(typeset("uniform(-0.05, 0.05)")) == "uniform\u2061(\u22120.05,0.05)"  # a true minus sign
    # Names that are sympy builtins elsewhere are plain symbols here.
    assert typeset("gamma * E + S").latex == r"\gamma \cdot E + S"


def test_assignments() -> None:
    assert typeset("position += 1").latex == r"\mathrm{position} \leftarrow \mathrm{position} + 1"
    assert typeset("x' = x + 1").latex == "{x}' = x + 1"
    assert typeset_assignment("x_dot", "x_dot + tau * xacc").latex == (
        r"\dot{x} \leftarrow \dot{x} + \tau \cdot \mathrm{xacc}"
    )


@pytest.mark.parametrize("text", ["reward is the number of steps", "θ̈ = g sin θ", "x = ", "lambda x: x", ""])
def test_text_that_is_not_an_expression_is_kept_as_code(text: str) -> None:
    ts = typeset(text)
    assert not ts.parsed and ts.mathml is None and ts.latex is None
    assert ts.html().startswith('<code class="unparsed">')
