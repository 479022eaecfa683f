"""Maps drawn in a description (``alamp.text_maps``): the cells of each mark, listed under the drawing."""

from __future__ import annotations

from alamp.description import Description
from alamp.tasks import load_task, load_tasks
from alamp.text_maps import MAX_CELLS_LISTED, drawn_maps, with_map_cells

_LAKE = "The lake, top row first:\n    S F F F\n    F H F H\n    F F F H\n    H F F G\nS is the start."


def test_the_cells_of_each_mark_are_listed_under_the_map() -> None:
    # frozen_lake (dev): the Constraint agent ended episodes at the goal and never in the four holes it drew.
    text = with_map_cells(_LAKE)
    lines = text.split("\n")
    assert lines[5] == ("    (Cells of the 4 x 4 map above as (row, column), row 0 at the top and column 0 at the "
                        "left: S: (0, 0); H: (1, 1), (1, 3), (2, 3), (3, 0); G: (3, 3).)")  # fmt: skip
    assert lines[:5] == _LAKE.split("\n")[:5] and lines[6] == "S is the start."


def test_rows_may_be_run_together() -> None:
    (drawn,) = drawn_maps("Map:\nSFFF\nFHFH\nFFFH\nHFFG\n")
    assert drawn.cells() == {"S": [(0, 0)], "H": [(1, 1), (1, 3), (2, 3), (3, 0)], "G": [(3, 3)]}


def test_prose_and_lone_rows_are_no_map() -> None:
    # Words, rows of two cells, a single row, rows of different lengths, lowercase run together, one mark only.
    for text in ("The cat sat on the mat.\nIt was warm.", "A B\nC D", "S F F", "ABC\nABCD", "abc\ndef", "F F F\nF F F"):
        assert with_map_cells(text) == text, text


def test_a_mark_with_too_many_cells_is_not_listed() -> None:
    wide = "\n".join(["H " * 10 + "F F"] * 5 + ["F " * 12])
    (drawn,) = drawn_maps(wide)
    assert sum(row.count("H") for row in drawn.rows) > MAX_CELLS_LISTED and "H" not in drawn.cells()


def test_the_description_read_once_carries_the_cells_and_says_so() -> None:
    text = Description.read(load_task("frozen_lake").description)
    assert "H: (1, 1), (1, 3), (2, 3), (3, 0)" in text.text and "text_maps" in text.note
    assert "Cells of the" not in text.own_text  # the user's own words: where the numbers the text states are counted
    assert "text_maps" not in Description.read(load_task("lunar_descent").description).note


def test_only_the_gridworlds_that_draw_a_map_have_one() -> None:
    drawn = {t.id for t in load_tasks() if drawn_maps(t.description)}
    assert drawn == {"frozen_lake", "frozen_lake_8x8"}
