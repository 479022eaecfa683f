"""Name scans shared by the assembly passes: which names an expression reads, renaming them, next-value names."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from alamp.schema import ActionSpec, Assignment
from alamp.schema._names import NEXT_VALUE_SUFFIXES, to_identifier

__all__ = [
    "ASSIGN",
    "identifier_or_none",
    "is_identity",
    "names_in",
    "names_read",
    "next_value_names",
    "rename",
    "reserved_names",
]

ASSIGN = re.compile(r"^\s*([A-Za-z_][\w']*)\s*([-+*/]?)=(?!=)\s*(.+?)\s*$", re.S)
"""A statement ``x = e`` (or ``x += e``, ...): groups target, operator, expression."""
# A whole identifier that is read as a value: not a function called (``min(``), a keyword argument or an assignment
# target (``low=``), nor an attribute (``np.x``). The lookbehind and the greedy ``\w*`` ending at ``\b`` make it
# match only complete identifiers, never part of a longer one.
_READ_NAME = re.compile(r"(?<![\w.])[^\W\d]\w*\b(?!\s*(?:=(?!=)|\())")


def names_in(text: str) -> set[str]:
    """The whole names an expression reads as values: ``{"x", "x_max"}`` for ``x + cos(x_max)``."""
    return set(_READ_NAME.findall(text))


def names_read(shared: Iterable[Assignment], actions: Iterable[ActionSpec], others: Iterable[str]) -> set[str]:
    """The names read by the shared updates, every action's updates and the ``others`` expressions."""
    texts = [u.expr for u in shared] + [u.expr for a in actions for u in a.updates] + list(others)
    return set().union(*(names_in(t) for t in texts))


def rename(text: str, mapping: dict[str, str]) -> str:
    """Replace whole identifiers that are read (``x_next`` but not ``x_next_max``) as ``mapping`` says."""
    return _READ_NAME.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def is_identity(update: Assignment) -> bool:
    """``x = x`` (also ``x = (x)``): an update that changes nothing."""
    expr = update.expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1].strip()
    return expr == update.target


def next_value_names(texts: list[str], state_names: set[str], defined: set[str]) -> dict[str, str]:
    """``{"x_next": "x"}`` for next-value names of state variables read in ``texts`` that nothing defines."""
    mapping: dict[str, str] = {}
    for name in sorted(set().union(*(names_in(t) for t in texts)) - defined):
        for suffix in NEXT_VALUE_SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in state_names:
                mapping[name] = name[: -len(suffix)]
                break
            # Indexed names: queue_next_1 for queue_1.
            indexed = re.fullmatch(rf"(\w+){suffix}(_\d+)", name)
            if indexed and indexed.group(1) + indexed.group(2) in state_names:
                mapping[name] = indexed.group(1) + indexed.group(2)
                break
    return mapping


def identifier_or_none(name: str) -> str | None:
    """``name`` as an identifier (``m·l`` -> ``m_l``), or None when it cannot be one."""
    try:
        return to_identifier(name)
    except ValueError:
        return None


@functools.cache
def reserved_names() -> frozenset[str]:
    """Names no constant may take: the spec language's functions and constants, ``action`` and Python words."""
    from alamp.spec.expr import BUILTIN_CONSTANTS
    from alamp.spec.functions import function_names

    words = ("action", "True", "False", "and", "or", "not", "if", "else")
    return frozenset({*function_names(), *BUILTIN_CONSTANTS, *words})
