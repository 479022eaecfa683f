"""Values for the symbols a description's formulas read but no agent defined, asked one symbol at a time.

Why: the small model copies a text's formulas well and translates them badly, so the text's own lines
(``alamp.text_step``, the formulas assembly inserts) are the best form of the step it can give. They need every
symbol they read. Engineers often state a constant in prose next to the quantity ("the sled weighs 2 kg") while the
formulas write ``m``; the Parameter agent then lists it under another name or not at all, and the formulas are lost.
A symbol is asked for (``SymbolValueSignature``) only when the formulas read it and nothing defines it: no parameter,
variable (or their symbols), action effect, text constant, text formula or draw; and only a mathematical symbol
(one or two letters or a Greek letter, with any subscript: ``m``, ``k_p``, ``tau``), not a word such as ``catch`` or
``inflow``, which names a quantity of the step the Env agent defines (fishery_quota, reservoir, train).

The agent picks which of the constants found so far the symbol is, or none (``symbol_constant`` reads the pick); it
never writes a number, so a guess cannot enter the spec. Measured on the train/dev symbols (15 symbols, 7 of them
constants the text values in prose, greedy and one sampled answer each): asked for the number, the model gave the
right one (or null for a non-constant) in 14 of 33 answers, often a wrong number the text states (``m = 0.4``, the
target position, on positioning_stage; ``25`` for every symbol of cruise_control); asked to pick, 19 of 30 (11 of
the 14 answers about constants).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from alamp.description import Description, formula_statements
from alamp.schema import Parameter
from alamp.schema._names import greek_name

__all__ = [
    "MAX_SYMBOLS_ASKED",
    "NO_CONSTANT",
    "constant_lines",
    "is_math_symbol",
    "symbol_constant",
    "symbol_question",
    "undefined_text_symbols",
]

#: At most this many symbols are asked for per run (each is one short LM call).
MAX_SYMBOLS_ASKED = 4

#: The Symbol value agent's answer when the symbol is none of the constants offered.
NO_CONSTANT = "none"
_GREEK_NAMES = frozenset(greek_name(chr(c)) or "" for c in range(0x391, 0x3CA)) - {""}


def is_math_symbol(name: str) -> bool:
    """Whether ``name`` is written like a mathematical symbol: one or two letters or a Greek letter's name, with any
    ``_subscript`` (``m``, ``Cd``, ``k1``, ``T_out``, ``tau``, ``omega_0``); not a word (``catch``, ``inflow``)."""
    base = name.split("_", 1)[0]
    return re.fullmatch(r"[A-Za-z]{1,2}\d*", base) is not None or base.lower() in _GREEK_NAMES


def undefined_text_symbols(text: Description, *, defined: Iterable[str]) -> list[tuple[str, list[str]]]:
    """The symbols the text's formulas read that nothing defines, each with the formulas (``target = expr``) reading it.

    Args:
        text: The description, read once.
        defined: Names defined before the step: parameters and variables (and their symbols), the actions' effect
            names and indicators, the built-in ``action``.

    Returns:
        ``(symbol, formulas)`` in order of first appearance, at most ``MAX_SYMBOLS_ASKED``.
    """
    from alamp.spec.expr import BUILTIN_CONSTANTS
    from alamp.spec.functions import function_names

    statements = formula_statements(text.text)
    known = (
        set(defined)
        | set(text.constants)
        | set(text.formulas)
        | set(text.step.draws)
        | set(text.action_symbols)
        | {target for target, _, _ in statements}
        | set(function_names())
        | set(BUILTIN_CONSTANTS)  # pi, inf
    )
    readers: dict[str, list[str]] = {}
    for target, formula, reads in statements:
        for symbol in reads:
            if symbol not in known and is_math_symbol(symbol):
                readers.setdefault(symbol, [])
                line = f"{target} = {formula}"
                if line not in readers[symbol]:
                    readers[symbol].append(line)
    return list(readers.items())[:MAX_SYMBOLS_ASKED]


def constant_lines(constants: Sequence[Parameter]) -> list[str]:
    """The constants as the Symbol value agent reads them: ``carriage_mass = 2 kg (mass of the carriage)``."""
    lines = []
    for c in constants:
        value = f"{c.value:g}" if isinstance(c.value, int | float) else str(c.value)
        unit = f" {c.unit}" if c.unit else ""
        what = f" ({c.description})" if c.description else ""
        lines.append(f"{c.name} = {value}{unit}{what}")
    return lines


def symbol_question(symbol: str) -> str:
    """The question the Symbol value agent answers about ``symbol`` (the last thing it reads)."""
    return (f"What does `{symbol}` stand for, and which of the constants is it? "
            f"Answer with its name, or {NO_CONSTANT} if `{symbol}` is none of them.")  # fmt: skip


def symbol_constant(pick: str, constants: Sequence[Parameter]) -> Parameter | None:
    """The constant the Symbol value agent picked, or None for ``none`` or a name not offered.

    Under plain decoding the pick may come quoted or in another case (```carriage_mass```, ``Carriage_Mass``); an
    exact name wins over a case-insensitive one.
    """
    name = pick.strip().strip("`'\"").strip()
    if not name or name.lower() == NO_CONSTANT:
        return None
    by_name = {c.name: c for c in constants}
    if name in by_name:
        return by_name[name]
    folded = [c for c in constants if c.name.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None
