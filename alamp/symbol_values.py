"""Values for the symbols a description's formulas read but no agent defined, asked one symbol at a time.

Why: the small model copies a text's formulas well and translates them badly, so the text's own lines
(``alamp.text_step``, the formulas assembly inserts) are the best form of the step it can give. They need every
symbol they read. Engineers often state a constant in prose next to the quantity ("the sled weighs 2 kg") while the
formulas write ``m``; the Parameter agent then lists it under another name or not at all, and the formulas are lost.
A symbol is asked for (``SymbolValueSignature``) only when the formulas read it and nothing defines it: no parameter,
variable (or their symbols), action effect, text constant, text formula or draw; and only a mathematical symbol
(one or two letters or a Greek letter, with any subscript: ``m``, ``k_p``, ``tau``), not a word such as ``catch`` or
``inflow``, which names a quantity of the step the Env agent defines (fishery_quota, reservoir, train). The answer is
kept only when it is a number the text states (not 0), so a guess cannot enter the spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from alamp.description import Description, formula_statements
from alamp.schema._names import greek_name

__all__ = ["MAX_SYMBOLS_ASKED", "is_math_symbol", "stated_in_text", "undefined_text_symbols"]

#: At most this many symbols are asked for per run (each is one short LM call).
MAX_SYMBOLS_ASKED = 4

# A number as written in the text: "0.1", "1.0", "-10", "9.8" (not part of a name such as T_in2).
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE]-?\d+)?(?![\w.]*[A-Za-z_])")
_REL_TOL = 1e-9
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


def stated_in_text(value: float | None, text: str) -> bool:
    """Whether ``value`` is a number the text states (sign ignored; 0 never counts: it is what a model echoes)."""
    if value is None or value != value or value == 0:
        return False
    target = abs(float(value))
    return any(abs(abs(float(m.group())) - target) <= _REL_TOL * max(1.0, target) for m in _NUMBER.finditer(text))
