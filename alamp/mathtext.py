"""Typeset mathematics in a description rewritten as the plain, Python-like text a code model copies.

Users write dynamics the way they would on paper: ``θ̈ = (g·sin θ − cos θ·temp) / (l·(4/3 − m·cos²θ / M))``,
``x ← x + τ·ẋ``. The embedded 1.5B code model transcribes such lines poorly (it drops terms and invents names for
``θ̇``), but copies ``theta_ddot = (g*sin(theta) - cos(theta)*temp) / (l*(4/3 - m*cos(theta)**2 / M))`` well. The
rewrite is mechanical and only touches characters whose meaning is unambiguous:

- Greek letters become their names as ``alamp.schema`` spells them in identifiers (``θ`` -> ``theta``, ``Δ`` ->
  ``Delta``, ``λ`` -> ``lamda``: Unicode's spelling, which is no Python keyword), Newton's dots suffixes (``ẋ`` ->
  ``x_dot``, ``θ̈`` -> ``theta_ddot``);
- ``·``, ``×`` and ``⋅`` become ``*``; ``−``, ``–`` between operands ``-``; ``←`` and ``:=`` ``=``; ``≤ ≥ ≠``
  ``<= >= !=``; superscript digits ``**n``; ``√x`` ``sqrt(x)``; ``|x - 1|`` ``abs(x - 1)``;
- a function written without parentheses gets them (``sin θ`` -> ``sin(theta)``, ``cos²θ`` -> ``cos(theta)**2``);
- time indices: ``x_{k+1}`` is the next value ``x_next``, ``x_k`` the value now ``x`` (tank_level, dev; not
  ``Delta_t``); ``clamp(...)`` is ``clip(...)``;
- a caret is a power (``theta^2`` -> ``theta**2``), a primed symbol before ``=`` or an operator the quantity's next
  value (``theta_dot' = ...`` -> ``theta_dot_next = ...``; pendulum_swingup, dev), ``mod`` the remainder
  (``(x + pi) mod 2*pi`` -> ``(x + pi) % (2*pi)``);
- a percentage becomes the fraction the agents compute with (``between 0.5 % and 2 %`` -> ``between 0.005 and
  0.02``; on epidemic_control, dev, the Variable agent made "0.5 %" an initial share of 0.5); ``t % 24`` and
  ``100 % 7`` (modulo: a name, a number or a one-letter name follows) stay.

Prose is left alone (``5 x 5 grid``, ``(row − 1)`` -> ``(row - 1)``). No library does this narrow job: ``unidecode``
turns ``θ`` into ``th`` and drops the dots, and LaTeX converters (``pylatexenc``) read LaTeX, not Unicode text.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from alamp.schema._names import DOT_SUFFIXES, greek_name

__all__ = ["FORMULA_START", "plain_math"]

# "x = ...", "temp = ...", "T_in = T_in + ...": where a formula may start in the plain-form text (group 1: the name
# it defines). Not after "/": "m*dv/dt = F - ..." is a differential equation, no definition of dt (cruise_control,
# train). The one reading shared by alamp.description and alamp.assembly.text.
FORMULA_START = re.compile(r"(?<![\w.*/])([A-Za-z_]\w*)\s*=(?!=)\s*")

_OPERATORS = {
    "·": "*", "⋅": "*", "×": "*", "∙": "*",
    "−": "-", "–": "-",
    "←": "=", "≔": "=",
    "≤": "<=", "⩽": "<=", "≥": ">=", "⩾": ">=", "≠": "!=",
    "∞": "inf",
}  # fmt: skip
_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9"}
_SUPERSCRIPT_RUN = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_FUNCTIONS = "sin|cos|tan|tanh|sinh|cosh|exp|log|ln|sqrt"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A mathematical symbol: one letter or a Greek letter's name, with suffixes (x, theta, theta_dot, x_2). Bare calls
# take only these, so prose keeps its words ("users log in" stays as it is).
_GREEK = sorted({greek_name(chr(c)) or "" for c in range(0x391, 0x3CA)} - {""}, key=len, reverse=True)
_SYMBOL = rf"(?:{'|'.join(_GREEK)}|[A-Za-z])(?:_[A-Za-z0-9]+)*"
# cos**2 theta (from cos²θ): the power belongs to the function's value.
_POWERED_CALL = re.compile(rf"\b({_FUNCTIONS})\*\*(\d+)\s*({_SYMBOL})\b")
# sin theta; cos 3x is left alone (ambiguous); sin(theta) already has parentheses.
_BARE_CALL = re.compile(rf"\b({_FUNCTIONS})\s+({_SYMBOL})\b(?!\s*\()")
_SQRT_NAME = re.compile(rf"√\s*({_NAME}|\d+(?:\.\d+)?)")
_SQRT_GROUP = re.compile(r"√\s*\(")
# |x|, |T_in - 21|: bars tight around a short formula on one line. A Markdown table cell ("| state |") has spaces
# inside its bars and is left alone.
_ABS_BARS = re.compile(r"\|(?=[\w(+\-])([\w .+\-*/()]{0,58}[\w)])\|")
_WALRUS = re.compile(r"(?<=\w)\s*:=\s*")
# "15 %", "0.5%," "90 % of": a number, "%", then the end, punctuation or a word of two or more letters.
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?%(?=\s*(?:$|[,.;:)\]]|[A-Za-z]{2,}\b))")
# theta^2, l^2, 2^(n+1): a caret between operands is a power (the spec language, like Python, has no xor).
_CARET_POWER = re.compile(r"(?<=[\w)\]])\s*\^\s*(?=[\w(.+\-])")
# theta_dot' = ..., theta' = wrap(theta + theta_dot' * dt): a primed symbol before "=" or an operator is the
# quantity's next value. Not a quoted word ('left') and not a possessive ("the users' queues": a word follows).
_PRIME = re.compile(r"(?<![\w'′])([A-Za-z_]\w*)['′](?!['′\w])(?=\s*[=+\-*/)\]])")
# u_{k+1} = clamp(u_k + Delta_u, 0, 1): the letter a subscript "+ 1" follows indexes time; x_{k+1} is x's next value,
# x_k and x_{k} its value now (not Delta_t, the step's length).
_TIME_INDEX = re.compile(r"_\{\s*([A-Za-z])\s*\+\s*1\s*\}")
_CLAMP = re.compile(r"\bclamp\s*\(")
# (x + pi) mod 2*pi, k mod 7: "mod" between operands is the remainder, of the whole product that follows.
_MOD = re.compile(r"(?<=[\w)])\s+mod\s+(\d+(?:\.\d+)?(?:\s*\*?\s*pi\b)?)")


def _as_fraction(match: re.Match[str]) -> str:
    return format((Decimal(match.group(1)) / 100).normalize(), "f")


def _spell_letters(text: str) -> str:
    """Greek letters as names and Newton's dots as suffixes, keeping every other character."""
    out: list[str] = []
    decomposed = unicodedata.normalize("NFD", text)
    for index, char in enumerate(decomposed):
        if char in DOT_SUFFIXES:
            out.append(DOT_SUFFIXES[char])
            continue
        if unicodedata.combining(char):
            out.append(char)  # accents of prose (é) are recomposed below
            continue
        word = greek_name(char)
        if word is None:
            out.append(char)
            continue
        following = decomposed[index + 1] if index + 1 < len(decomposed) else ""
        # θ1 -> theta1, but Δt -> Delta_t so that the two symbols stay apart.
        out.append(word + ("_" if following.isalpha() and greek_name(following) is None else ""))
    return unicodedata.normalize("NFC", "".join(out))


def _without_time_index(text: str) -> str:
    """``x_{k+1}`` -> ``x_next`` and ``x_k``, ``x_{k}`` -> ``x`` for each letter ``k`` the text indexes time with."""
    for letter in sorted({m.group(1) for m in _TIME_INDEX.finditer(text)}):
        text = re.sub(rf"(?<=[A-Za-z0-9])_\{{\s*{letter}\s*\+\s*1\s*\}}", "_next", text)
        text = re.sub(rf"\b(?!Delta_|delta_)([A-Za-z]\w*?)_(?:\{{\s*{letter}\s*\}}|{letter}\b)", r"\1", text)
    return text


def plain_math(text: str) -> str:
    """Rewrite typeset mathematics in ``text`` as Python-like plain text (see the module docstring).

    Args:
        text: A description as the user wrote it.

    Returns:
        The same text with its formulas in plain form; text without such characters comes back unchanged.
    """
    if text.isascii() and not re.search(r":=|[|%^'{]|\smod\s|\bclamp\b", text):
        return text
    plain = _PERCENT.sub(_as_fraction, text)
    plain = _spell_letters(plain)
    plain = _SQRT_GROUP.sub("sqrt(", plain)
    plain = _SQRT_NAME.sub(r"sqrt(\1)", plain)
    for symbol, ascii_form in _OPERATORS.items():
        plain = plain.replace(symbol, ascii_form)
    plain = _SUPERSCRIPT_RUN.sub(lambda m: "**" + "".join(_SUPERSCRIPTS[c] for c in m.group(0)), plain)
    plain = _POWERED_CALL.sub(r"\1(\3)**\2", plain)
    plain = _BARE_CALL.sub(r"\1(\2)", plain)
    plain = _ABS_BARS.sub(lambda m: f"abs({m.group(1).strip()})" if m.group(1).strip() else m.group(0), plain)
    plain = _CARET_POWER.sub("**", plain)
    plain = _without_time_index(plain)
    plain = _CLAMP.sub("clip(", plain)
    plain = _PRIME.sub(r"\1_next", plain)
    plain = _MOD.sub(lambda m: " % (" + re.sub(r"\s*\*?\s*(pi)$", r"*\1", m.group(1)) + ")", plain)
    return _WALRUS.sub(" = ", plain)
