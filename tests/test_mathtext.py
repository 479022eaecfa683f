"""The plain-text rewrite of typeset mathematics that the agents read (alamp.mathtext)."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alamp.mathtext import plain_math
from alamp.tasks import load_tasks


@pytest.mark.parametrize(
    ("typeset", "plain"),
    [
        ("θ̈ = (g·sin θ − cos θ·temp) / (l·(4/3 − m·cos²θ / M))",
         "theta_ddot = (g*sin(theta) - cos(theta)*temp) / (l*(4/3 - m*cos(theta)**2 / M))"),
        ("x ← x + τ·ẋ", "x = x + tau*x_dot"),
        ("temp = (F + m·l·θ̇²·sin θ) / M", "temp = (F + m*l*theta_dot**2*sin(theta)) / M"),
        ("velocity ← velocity + (a − 1)·0.001 − 0.0025·cos(3·position)",
         "velocity = velocity + (a - 1)*0.001 - 0.0025*cos(3*position)"),
        ("reward = −|T_in − 21| − 0.5·P", "reward = -abs(T_in - 21) - 0.5*P"),
        ("ends when |x| > 2.4", "ends when abs(x) > 2.4"),
        ("Δt = 0.1 and λ ≥ 0", "Delta_t = 0.1 and lamda >= 0"),  # Unicode's lamda: lambda is a keyword
        ("y = √x + √(x + 1)", "y = sqrt(x) + sqrt(x + 1)"),
        ("q := q × 2, a ≤ 3 ≠ b", "q = q * 2, a <= 3 != b"),
        ("x ∈ [−∞, 10³]", "x ∈ [-inf, 10**3]"),
        # pendulum_swingup (dev): a caret power, primes for next values, and "mod" in an ASCII text.
        ("c = theta^2 + 0.1 * theta_dot^2", "c = theta**2 + 0.1 * theta_dot**2"),
        ("theta_dot' = theta_dot + u * dt\n theta' = theta + theta_dot' * dt",
         "theta_dot_next = theta_dot + u * dt\n theta_next = theta + theta_dot_next * dt"),
        ("wrap(x) = ((x + pi) mod 2*pi) - pi; k mod 7", "wrap(x) = ((x + pi) % (2*pi)) - pi; k % (7)"),
        ("x′ = x + v·Δt", "x_next = x + v*Delta_t"),
        # tank_level (dev): time indices and clamp; Δt stays the step's length.
        ("u_{k+1} = clamp(u_k + Δu, 0, 1)\nh_{k+1} = h_k + (Δt/A)·u_{k+1}",
         "u_next = clip(u + Delta_u, 0, 1)\nh_next = h + (Delta_t/A)*u_next"),
        ("γ_{t+1} = γ_t + ε_{t}, K_s = 0.2", "gamma_next = gamma + epsilon, K_s = 0.2"),
    ],
)  # fmt: skip
def test_formulas_become_python(typeset: str, plain: str) -> None:
    assert plain_math(typeset) == plain


@pytest.mark.parametrize(
    "prose",
    [
        "The area is a 5 x 5 grid of cells; the drone flies north (row - 1).",
        "hi, i manage stock for one product in a small warehouse (room for 20 units).",
        "Target room temperature 21 °C, café opens at 8.",
        "choose a | b freely",
        "users log in every day; the exp value is shown",
        "| state | meaning |\n|---|---|\n| x | cart position |",  # a Markdown table keeps its bars
        "the drivers' shifts end at 6; press 'left' ('L') or don't",  # possessives and quotes are no primes
        "x'' = -x is the spring's law",  # a second derivative is not a next value
        "we sell a mod for the game",
        "x_k is the k-th sample and the set {a, b}",  # no "+ 1" subscript: k indexes no time
    ],
)
def test_prose_is_left_alone(prose: str) -> None:
    assert plain_math(prose) == prose


def test_rewritten_cartpole_equations_parse_as_python() -> None:
    cartpole = next(t for t in load_tasks() if t.id == "cartpole")
    plain = plain_math(cartpole.description)
    assert plain.isascii()
    lines = [line.strip().rstrip(",") for line in plain.splitlines() if line.startswith(("temp =", "theta_ddot ="))]
    assert len(lines) == 2
    for line in lines:
        ast.parse(line)  # each is now a Python assignment the Env agent can copy


@given(st.text(max_size=200))
def test_never_crashes_and_is_idempotent(text: str) -> None:
    once = plain_math(text)
    assert plain_math(once) == once


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("uniformly random between 0.5 % and 2 %; we look", "uniformly random between 0.005 and 0.02; we look"),
        ("The quota can be 0 %, 15 % or 60 % of the biomass.", "The quota can be 0, 0.15 or 0.6 of the biomass."),
        ("selling earns only 90 % of the price", "selling earns only 0.9 of the price"),
        ("hour = t % 24, and 100 % 7 is 2, k = 5 % n", "hour = t % 24, and 100 % 7 is 2, k = 5 % n"),
    ],
)
def test_percentages_become_fractions_and_modulo_stays(text: str, plain: str) -> None:
    assert plain_math(text) == plain
