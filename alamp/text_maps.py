"""Maps drawn in a description, read into the cells the agents need: which cells hold each mark.

People describe a gridworld by drawing it::

    S F F F
    F H F H
    F F F H
    H F F G

The small model reads such a drawing badly: asked for the conditions that end an episode, it wrote the goal's and
left out the holes (frozen_lake, dev: modeling score 1.00 from every other part, fidelity 0.80, return 0), because
turning a picture into coordinates is translation, and it copies well but translates badly. So the description is
read once more here: every map (at least two rows of at least three one-character cells, the same number in each
row, separated by spaces or not) gets a line per mark under it, listing the mark's cells as ``(row, column)``,
counted from 0 at the top-left corner, the way the drawing is read. The most frequent mark (the background: ``F``,
``.``) is not listed. Nothing is listed for marks with more than ``MAX_CELLS_LISTED`` cells.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["MAX_CELLS_LISTED", "DrawnMap", "drawn_maps", "with_map_cells"]

#: A mark with more cells than this is not listed (a drawing that big is no map the agents should enumerate).
MAX_CELLS_LISTED = 40

# One row of a drawing: one-character cells separated by single spaces ("S F F F", ". H . G"), or run together
# from capitals and marks only ("SFFF", "#..#"), so that no word of prose is read as a row.
_SPACED_ROW = re.compile(r"^[ \t]*(\S(?: \S){2,})[ \t]*$")
_COMPACT_ROW = re.compile(r"^[ \t]*([A-Z.#*@~^+=-]{3,})[ \t]*$")


@dataclass(frozen=True)
class DrawnMap:
    """One drawing: its rows of cells, and the line of the text it ends on."""

    rows: tuple[tuple[str, ...], ...]
    last_line: int

    def cells(self) -> dict[str, list[tuple[int, int]]]:
        """Mark -> its cells as ``(row, column)`` from the top-left, in reading order (the background left out)."""
        counts = Counter(mark for row in self.rows for mark in row)
        background = counts.most_common(1)[0][0]
        found: dict[str, list[tuple[int, int]]] = {}
        for r, row in enumerate(self.rows):
            for c, mark in enumerate(row):
                if mark != background:
                    found.setdefault(mark, []).append((r, c))
        return {mark: cells for mark, cells in found.items() if len(cells) <= MAX_CELLS_LISTED}

    def note(self) -> str:
        """The lines added under the drawing (empty when no mark is listed)."""
        listed = [f"{mark}: {', '.join(f'({r}, {c})' for r, c in cells)}" for mark, cells in self.cells().items()]
        if not listed:
            return ""
        height, width = len(self.rows), len(self.rows[0])
        return (f"(Cells of the {height} x {width} map above as (row, column), row 0 at the top and column 0 at "
                f"the left: {'; '.join(listed)}.)")  # fmt: skip


def _row(line: str) -> tuple[str, ...] | None:
    if match := _SPACED_ROW.match(line):
        return tuple(match.group(1).split(" "))
    if match := _COMPACT_ROW.match(line):
        return tuple(match.group(1))
    return None


def drawn_maps(text: str) -> list[DrawnMap]:
    """The drawings in ``text``: runs of at least two consecutive rows with the same number of cells."""
    maps: list[DrawnMap] = []
    run: list[tuple[str, ...]] = []
    lines = text.split("\n")
    for number, line in enumerate([*lines, ""]):
        row = _row(line)
        if row is not None and (not run or len(row) == len(run[0])):
            run.append(row)
            continue
        if len(run) >= 2 and len({mark for r in run for mark in r}) >= 2:
            maps.append(DrawnMap(rows=tuple(run), last_line=number - 1))
        run = [row] if row is not None else []
    return maps


def with_map_cells(text: str) -> str:
    """``text`` with, under each drawn map, the line listing each mark's cells (unchanged when it draws none)."""
    maps = [m for m in drawn_maps(text) if m.note()]
    if not maps:
        return text
    lines = text.split("\n")
    for drawn in reversed(maps):
        indent = re.match(r"[ \t]*", lines[drawn.last_line]).group(0)  # type: ignore[union-attr]
        lines.insert(drawn.last_line + 1, indent + drawn.note())
    return "\n".join(lines)
