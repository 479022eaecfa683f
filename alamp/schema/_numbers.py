"""Forgiving reading of numbers written by an LLM: ``"0.5 m"``, ``"1,000"``, ``-np.pi/2``, ``12 * pi / 180``."""

from __future__ import annotations

import ast
import math
import operator

_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "infinity": math.inf}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}
_MAX_EXPONENT = 64


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id.lower() in _CONSTANTS:
        return _CONSTANTS[node.id.lower()]
    is_module_attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    if is_module_attribute and node.value.id in ("np", "math", "numpy") and node.attr.lower() in _CONSTANTS:
        return _CONSTANTS[node.attr.lower()]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError("exponent too large")
        return float(_BINARY[type(node.op)](left, right))
    raise ValueError("not a constant arithmetic expression")


def read_number(value: object, *, what: str) -> object:
    """Return a float for a number written as text, or ``value`` unchanged when it is not text.

    Accepts a plain number with a trailing unit (``"0.5 m"``), thousands separators (``"1,000"``) and constant
    arithmetic with ``pi``/``e`` (``"-np.pi/2"``, ``"12 * pi / 180"``): their meaning is unambiguous.

    Raises:
        ValueError: For text that is none of these, naming ``what`` and showing the fix.
    """
    if not isinstance(value, str):
        return value
    text = value.strip().replace(",", "")
    if not text:
        raise ValueError(f"{what} is empty; write a number, e.g. 9.8")
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return _evaluate(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        pass
    head = text.split()[0]
    try:
        return float(head)  # "0.5 m": a number followed by its unit
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a number; write only the number, e.g. 9.8 or 3.1416") from exc
