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

from collections.abc import Sequence
from typing import TypeVar

from alamp.description import Description
from alamp.schema import Parameter, Variable
from alamp.schema._names import to_identifier

__all__ = ["adopt_text_symbols"]

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
        notes.append(f"{quantity.name} is called {name}, the symbol the text's formulas use (text_names)")
    return renamed, notes
