"""The text's own names: a quantity the description writes as a symbol is called by that symbol downstream.

Why: the embedded model copies well and translates badly. Offered the symbols the text's formulas use (``g``, ``m``,
``l``, ``F``, ``T_in``), it copied the text's update lines exactly in 5 of 8 samples; offered descriptive names
(``gravity``, ``indoor_temp``) it still wrote the text's symbols, and nothing compiled. So the Parameter and
Variable agents record, beside each quantity's descriptive name, the symbol the text uses for it (``symbol``), and
this pass makes that symbol the quantity's name, keeping the descriptive name in ``description``. Every later agent
(Objective, Constraint, Modeling, SAR, Env) is then offered the text's names.

What it reads: the agents' ``Parameter`` / ``Variable`` lists and the text's formula symbols
(``Description.symbols``). What it rewrites: ``name`` (and ``description`` when it was empty). When it does not
fire: the symbol is empty, not a symbol the text's formulas use, already the name, taken by another quantity, or
(for a parameter) the text gives that symbol a different number (``M = 1.1`` while the parameter is 1.0: the model
attached the symbol to the wrong quantity).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from alamp.description import Description
from alamp.schema import Parameter, Variable
from alamp.schema._names import to_identifier

__all__ = ["adopt_text_symbols", "symbols_named_in_prose"]

Quantity = TypeVar("Quantity", Parameter, Variable)

_REL_TOL = 1e-6


def _symbol_name(symbol: str) -> str | None:
    from alamp.mathtext import plain_math

    if not symbol.strip():
        return None
    try:
        return to_identifier(plain_math(symbol).strip())
    except ValueError:
        return None


def _value_disagrees(quantity: Parameter | Variable, name: str, text: Description) -> bool:
    if not isinstance(quantity, Parameter) or name not in text.constants or isinstance(quantity.value, list):
        return False
    stated = text.constants[name]
    return abs(float(quantity.value) - stated) > _REL_TOL * max(1.0, abs(stated))


# How far a prose definition may stand from its symbol ("the susceptible share S", "where P is the heater power").
_CONTEXT_WORDS = 4
# Words too common in quantity names to tie a symbol to one quantity.
_GENERIC = {"value", "level", "current", "total", "number", "amount", "rate", "time", "step", "state", "size"}
_CLAUSE_END = re.compile(r"[.;:=,()\[\]]")


def _name_words(quantity: Parameter | Variable) -> set[str]:
    return {w for w in quantity.name.lower().split("_") if len(w) >= 4 and w not in _GENERIC}


def _matches(words: Sequence[str], name_words: set[str]) -> bool:
    # "infected" matches "infections" and "infected"; a shared stem of five letters or more.
    return any(w[:5] == n[:5] and min(len(w), len(n)) >= 5 or w == n for w in words for n in name_words)


def _contexts(text: str, symbol: str, symbols: set[str]) -> list[list[str]]:
    """For each prose occurrence of ``symbol``: the words just before it in its clause, and after ``SYM is (the)``."""
    contexts = []
    for match in re.finditer(rf"(?<![\w.*/+-]){re.escape(symbol)}(?![\w(*/+-])", text):
        before = _CLAUSE_END.split(text[max(0, match.start() - 80) : match.start()])[-1].split()
        words: list[str] = []
        for word in reversed(before):
            if word in symbols or len(words) == _CONTEXT_WORDS:
                break
            words.insert(0, word.lower().strip(",'\""))
        after = text[match.end() : match.end() + 80]
        is_the = re.match(r"\s+(?:is|are|denotes|stands for)\s+(?:the\s+|a\s+)?([^.;:,=()]*)", after)
        if is_the:
            words += [w.lower() for w in is_the.group(1).split()[:_CONTEXT_WORDS]]
        contexts.append(words)
    return contexts


def symbols_named_in_prose(quantities: Sequence[Quantity], *, text: Description) -> dict[int, str]:
    """Symbols the prose ties to one quantity each: ``the susceptible share S``, ``where P is the heater power``.

    Only quantities without a ``symbol`` are considered, and only symbols of the text's formulas that no quantity
    names or claims yet. A symbol is tied to a quantity when a word of the quantity's name (five letters or more in
    common, generic words like ``rate`` or ``value`` ignored) stands in the few words before the symbol in its clause,
    or after ``SYM is the``; the tie counts only when it is one-to-one.

    Returns:
        Position in ``quantities`` -> the symbol.
    """
    symbols = set(text.symbols)
    claimed = {q.name for q in quantities} | {_symbol_name(q.symbol) for q in quantities if q.symbol}
    open_symbols = [s for s in text.symbols if s not in claimed]
    ties: dict[str, set[int]] = {}
    for symbol in open_symbols:
        contexts = _contexts(text.text, symbol, symbols)
        for i, quantity in enumerate(quantities):
            words = _name_words(quantity)
            if not quantity.symbol and words and any(_matches(c, words) for c in contexts):
                ties.setdefault(symbol, set()).add(i)
    by_quantity: dict[int, list[str]] = {}
    for symbol, positions in ties.items():
        if len(positions) == 1:
            by_quantity.setdefault(next(iter(positions)), []).append(symbol)
    return {i: found[0] for i, found in by_quantity.items() if len(found) == 1}


def adopt_text_symbols(
    quantities: Sequence[Quantity], *, text: Description, taken: Sequence[str] = ()
) -> tuple[list[Quantity], list[str]]:
    """Rename each quantity to the symbol the text's formulas use for it (see the module docstring).

    Args:
        quantities: The Parameter agent's or the Variable agent's output.
        text: The description, read once.
        taken: Names already used elsewhere (e.g. the parameters when renaming variables).

    Returns:
        The quantities (renamed where the pass fired) and one note per rename.
    """
    symbols = set(text.symbols)
    candidates = {i: _symbol_name(q.symbol) for i, q in enumerate(quantities)}
    # Prose ties name variables only: a parameter *about* a variable shares its words ("initial_susceptible" and "the
    # susceptible share S", epidemic_control, dev) and would take the variable's symbol.
    prose = symbols_named_in_prose(quantities, text=text) if all(isinstance(q, Variable) for q in quantities) else {}
    candidates |= prose
    # A symbol claimed by two quantities says nothing about either.
    claims: dict[str, int] = {}
    for name in candidates.values():
        if name:
            claims[name] = claims.get(name, 0) + 1
    used = {q.name for q in quantities} | set(taken)
    renamed: list[Quantity] = []
    notes: list[str] = []
    for i, quantity in enumerate(quantities):
        name = candidates[i]
        fires = (
            name is not None
            and name != quantity.name
            and name in symbols
            and claims[name] == 1
            and name not in used
            and not _value_disagrees(quantity, name, text)
        )
        if not fires:
            renamed.append(quantity)
            continue
        assert name is not None
        description = quantity.description or quantity.name.replace("_", " ")
        renamed.append(quantity.model_copy(update={"name": name, "description": description}))
        used.add(name)
        how = "the prose names it so" if i in prose else "its symbol"
        notes.append(f"{quantity.name} is called {name}, the symbol the text's formulas use ({how}; text_names)")
    return renamed, notes
