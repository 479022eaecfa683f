"""Forgiving normalisation of identifiers written by an LLM."""

from __future__ import annotations

import keyword
import re

_NON_IDENT = re.compile(r"[^0-9a-zA-Z_]+")


def to_identifier(raw: str) -> str:
    """Turn a human or LLM-written name into a Python identifier.

    ``"Pole length (m)"`` becomes ``"pole_length_m"``; ``"x'"`` becomes ``"x"``. The meaning is unambiguous, so
    we normalise rather than fail.

    Args:
        raw: The name as written.

    Returns:
        An identifier (case kept: expressions may refer to it as written).

    Raises:
        ValueError: If nothing usable is left (an empty or all-symbol name).
    """
    text = str(raw).strip().strip("`'\"").replace("'", "")
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
