"""Action effects as the SAR agent writes them (``force = -force_mag``, ``y += 1; x = x - 1``) read as assignments."""

from __future__ import annotations

from alamp.assembly.names import ASSIGN
from alamp.schema import Assignment
from alamp.schema._names import to_identifier

__all__ = ["parse_assignments"]


def _split_top_level(text: str) -> list[str]:
    """Split on ``;``, newlines and commas that are not inside brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if depth == 0 and ch in ";\n,":
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_assignments(text: str) -> tuple[list[Assignment], list[str]]:
    """Parse an action effect such as ``force = -force_mag`` or ``y += 1; x = x - 1`` into assignments.

    Args:
        text: The effect as the SAR agent wrote it.

    Returns:
        The assignments, and the pieces that were not assignments (prose; ignored).
    """
    assignments: list[Assignment] = []
    ignored: list[str] = []
    pieces = _split_top_level(text)
    merged: list[str] = []
    for piece in pieces:
        # A comma inside an expression without brackets ("x = a, b") is not a new assignment: keep it together.
        if merged and not ASSIGN.match(piece) and ASSIGN.match(merged[-1]):
            ignored.append(piece)
            continue
        merged.append(piece)
    for piece in merged:
        match = ASSIGN.match(piece)
        if not match:
            ignored.append(piece)
            continue
        target, op, expr = match.group(1), match.group(2), match.group(3)
        target = to_identifier(target)
        expr = expr.rstrip(".")
        if op:
            expr = f"{target} {op} ({expr})"
        assignments.append(Assignment(target=target, expr=expr))
    return assignments, ignored
