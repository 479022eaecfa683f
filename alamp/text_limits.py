"""Bounds on untrusted text: error messages from generated code, descriptions, LM feedback.

Text that comes from code alamp does not control (a sandboxed child's traceback, a checker message quoting an
observation) can be arbitrarily large; passed on whole it becomes a multi-megabyte Repair prompt or run.json. Every
such text goes through :func:`cap_text`, which keeps its head and its tail (where a traceback names the failing line
and the exception) and says how much was cut.
"""

from __future__ import annotations

__all__ = ["DEFAULT_TEXT_CAP", "cap_text"]

#: Characters of untrusted text kept by default (head and tail together): enough for a traceback and its message.
DEFAULT_TEXT_CAP = 4000


def cap_text(text: str, *, limit: int = DEFAULT_TEXT_CAP, tail_share: float = 0.6) -> str:
    """``text`` when it is at most ``limit`` characters, else its head and tail joined by a note of what was cut.

    Args:
        text: Any text (``None``-like values are read as empty).
        limit: Most characters kept (the note adds about 60 more).
        tail_share: Share of ``limit`` given to the tail (a traceback's exception is at the end).

    Returns:
        The capped text.
    """
    text = str(text or "")
    if len(text) <= limit:
        return text
    tail = max(0, int(limit * tail_share))
    head = max(0, limit - tail)
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut:,} characters cut ...]\n{text[len(text) - tail:]}"
