"""What the description itself defines: literal constants, formulas, the symbol of the chosen action.

The Parameter and Env agents miss some of what the text states; these readers find it so that assembly can fill a
name that is read but defined nowhere (see the passes ``constants_from_text``, ``formulas_for_undefined_names`` and
``text_action_symbol_is_the_action``).
"""

from __future__ import annotations

import ast
import re

from alamp.assembly.names import identifier_or_none
from alamp.mathtext import FORMULA_START
from alamp.spec.functions import SPEC_FUNCTIONS

__all__ = ["action_symbols_in_text", "constants_in_text", "formulas_in_text", "says_no_early_end"]

# A literal definition in the text: "M = 1.1 kg", "m·l = 0.05 kg·m", "τ = 0.02 s" (not "x = 2 * y", not "x = x + 1").
_TEXT_DEFINITION = re.compile(
    r"(?<![\w.·*])([^\W\d][\w·]*(?:\*[^\W\d][\w·]*)*)\s*=\s*([-−+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"(?!\d|\.\d|\s*[-−+*/^×·(])"
)


def constants_in_text(text: str) -> dict[str, float]:
    """Symbols the text defines literally with one number (``M = 1.1 kg``), as identifiers (``m·l`` -> ``m_l``).

    A symbol given two different values is left out: then the text does not say which one is meant.
    """
    values: dict[str, set[float]] = {}
    for match in _TEXT_DEFINITION.finditer(text or ""):
        name = identifier_or_none(match.group(1).replace("*", "·"))  # m*l (plain form of m·l) -> m_l
        if name is None:
            continue
        values.setdefault(name, set()).add(float(match.group(2).replace("−", "-")))
    return {name: next(iter(found)) for name, found in values.items() if len(found) == 1}


# Where a formula in running text may end: a comma or full stop followed by a space, a semicolon, a line end.
_FORMULA_END = re.compile(r",(?=\s)|;|\n|\.(?=\s|$)|$")
_FORMULA_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant, ast.Call, ast.Compare, ast.IfExp,
    ast.BoolOp, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
)  # fmt: skip


def _formula_or_none(text: str, target: str) -> str | None:
    """``text`` as a formula for ``target``: arithmetic on names, numbers and known functions, not reading itself."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _FORMULA_NODES):
            return None
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, int | float)):
            return None
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in SPEC_FUNCTIONS):
            return None
        if isinstance(node, ast.Name):
            names.add(node.id)
    callees = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    read = names - callees
    if not read or target in read:
        return None  # a number is constants_in_text's; x = x + ... is an update, not a definition
    return ast.unparse(tree)


def formulas_in_text(text: str) -> dict[str, str]:
    """Names the text defines by a formula (``temp = (F + m*l*theta_dot**2*sin(theta)) / M``), as expressions.

    The text is read in plain form (``alamp.mathtext``). A formula ends at the first comma or full stop followed by a
    space, semicolon or line end after which it parses; it must be arithmetic on names, numbers and the expression
    language's functions, and must not read its own name (``x = x + tau*x_dot`` is an update, not a definition). A
    name given two different formulas is left out.
    """
    from alamp.mathtext import plain_math

    plain = plain_math(text or "")
    found: dict[str, set[str]] = {}
    for match in FORMULA_START.finditer(plain):
        target, rest = match.group(1), plain[match.end() : match.end() + 400]
        for end in _FORMULA_END.finditer(rest):
            formula = _formula_or_none(rest[: end.start()].strip(), target)
            if formula is not None:
                found.setdefault(target, set()).add(formula)
                break
    return {name: next(iter(formulas)) for name, formulas in found.items() if len(formulas) == 1}


# "where a is 0, 1 or 2 for the chosen action", "with u ∈ {0, 1} the action", "here k denotes the action index"
_TEXT_ACTION_SYMBOL = re.compile(
    r"\b(?:where|with|here)\s+([^\W\d]\w{0,3})\s+(?:is|∈|denotes|stands for)\s+[^.;:\n]{0,60}?\baction\b",
    re.IGNORECASE,
)


def action_symbols_in_text(text: str) -> set[str]:
    """Short symbols the text says stand for the chosen action (``where a is 0, 1 or 2 for the chosen action``)."""
    found = {identifier_or_none(m.group(1)) for m in _TEXT_ACTION_SYMBOL.finditer(text or "")}
    return {name for name in found if name and name.lower() not in {"the", "it", "this", "that", "each", "an", "a_"}}


# "Nothing stops a run early", "nothing ends it sooner", "with no early termination", "it never ends early".
_NO_EARLY_END = re.compile(
    r"\bnothing\s+(?:stops|ends|terminates|finishes|halts)\b[^.;:\n]{0,30}?\b(?:early|sooner|prematurely)\b"
    r"|\bno\s+early\s+(?:termination|stop|end|exit)s?\b"
    r"|\bnever\s+(?:stops|ends|terminates|finishes)\s+(?:early|sooner|prematurely)\b",
    re.IGNORECASE,
)
# A sentence that names an exception ("nothing ends it early except a crash") states an ending after all.
_EXCEPTION = re.compile(r"\b(?:except|unless|other than|apart from|but)\b", re.IGNORECASE)


def says_no_early_end(text: str) -> bool:
    """Whether the text says that nothing ends an episode before its time limit ("Nothing stops a run early").

    Only a sentence that says so without naming an exception counts.
    """
    for sentence in re.split(r"(?<=[.!?;])\s+|\n\s*\n", text or ""):
        if _NO_EARLY_END.search(sentence) and not _EXCEPTION.search(sentence):
            return True
    return False
