"""Forgiving normalisation of identifiers written by an LLM."""

from __future__ import annotations

import keyword
import re
import unicodedata
from typing import Annotated

from pydantic import BeforeValidator

from alamp.schema._markers import IDENTIFIER

_NON_IDENT = re.compile(r"[^0-9a-zA-Z_]+")
# How models name the next value of ``x`` (``x_next``, ``x_new``, ...): read by assembly and by the spec compiler.
NEXT_VALUE_SUFFIXES = ("_next", "_new", "_prime", "_t1", "_tp1", "_plus")
# Newton's dot notation: a combining dot above a symbol is its time derivative (x-dot is the velocity of x).
DOT_SUFFIXES = {"\u0307": "_dot", "\u0308": "_ddot", "\u20db": "_dddot"}


def greek_name(char: str) -> str | None:
    """``theta`` for ``θ``, ``Delta`` for ``Δ`` (Unicode's spelling: ``lamda``, which is no Python keyword); None for
    anything that is not a Greek letter."""
    name = unicodedata.name(char, "")
    if not (name.startswith("GREEK") and " LETTER " in name):
        return None
    letter = name.split(" LETTER ")[-1].split()[0].lower()
    return letter if "SMALL" in name else letter.capitalize()


def _transliterate(text: str) -> str:
    """Spell out symbols a model copies from maths-heavy text: ``θ`` -> ``theta``, ``ẋ`` -> ``x_dot``."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if char.isascii():
            out.append(char)
        elif char in DOT_SUFFIXES:
            out.append(DOT_SUFFIXES[char])
        elif unicodedata.combining(char):
            continue
        else:
            letter = greek_name(char)
            out.append(" " if letter is None else letter + "_")
    return "".join(out)


def to_identifier(raw: str) -> str:
    """Turn a human or LLM-written name into a Python identifier.

    ``"Pole length (m)"`` becomes ``"Pole_length_m"``; ``"x'"`` becomes ``"x"``; ``"θ̇"`` becomes
    ``"theta_dot"``. The meaning is unambiguous, so we normalise rather than fail.

    Args:
        raw: The name as written.

    Returns:
        An identifier (case kept: expressions may refer to it as written).

    Raises:
        ValueError: If nothing usable is left (an empty or all-symbol name).
    """
    text = _transliterate(str(raw).strip().strip("`'\"").replace("'", ""))
    text = _NON_IDENT.sub("_", text).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text:
        raise ValueError(f"name {raw!r} has no letters or digits; use a short snake_case name such as 'cart_position'")
    if text[0].isdigit():
        text = "v_" + text
    if keyword.iskeyword(text):
        text = text + "_"
    return text


def check_unique(names: list[str], what: str) -> None:
    """Raise a ValueError naming the duplicates among ``names``."""
    seen: set[str] = set()
    dups = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if dups:
        raise ValueError(f"duplicate {what} names: {sorted(set(dups))}; every {what} needs its own name")


# A name field that normalises what the model wrote (``"Pole length"`` -> ``Pole_length``, ``θ̇`` -> ``theta_dot``).
# IDENTIFIER: constrained decoding (alamp.lm.grammar) lets the model write only identifier characters here.
Identifier = Annotated[str, BeforeValidator(to_identifier), IDENTIFIER]
