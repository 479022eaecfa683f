"""The problem description a user hands alamp: read it from a file, check it, bound it.

The description goes into every agent's prompt, so its size is bounded (:data:`MAX_DESCRIPTION_CHARS`, about ten
pages; every task in data/tasks/ is under 3,000 characters): a larger one is refused with the size and the limit
rather than sent to each agent. Control characters other than newline and tab are refused too (they are not text a
user writes, and they can hide instructions from a reader). A file that is not UTF-8 is named with the fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["MAX_DESCRIPTION_CHARS", "DescriptionError", "check_description", "read_description_file"]

#: Longest description accepted, in characters.
MAX_DESCRIPTION_CHARS = 30_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class DescriptionError(ValueError):
    """The description is unusable (too long, empty, control characters, not UTF-8); the message says the fix.

    A ``ValueError``, so ``alamp.run`` reports it as bad input.
    """


def check_description(text: str, *, source: str = "the description") -> str:
    """``text`` with surrounding whitespace removed and one final newline, if it is a usable description.

    Args:
        text: The description.
        source: What to call it in errors (e.g. the file name).

    Raises:
        DescriptionError: Not a string, empty, over :data:`MAX_DESCRIPTION_CHARS`, or with control characters.
    """
    if not isinstance(text, str):
        raise DescriptionError(f"{source} must be text, not {type(text).__name__}")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise DescriptionError(f"{source} is empty; describe the decision problem in plain words")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise DescriptionError(
            f"{source} has {len(text):,} characters; alamp accepts at most {MAX_DESCRIPTION_CHARS:,} (about ten "
            "pages), since every agent reads it whole: keep what defines the problem (state, actions, dynamics, "
            "reward, episode end) and cut the rest"
        )
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise DescriptionError(
            f"{source} contains the control character {bad.group()!r} on line {line}; remove it (only newlines and "
            "tabs are accepted)"
        )
    return text + "\n"


def read_description_file(path: str | os.PathLike[str]) -> str:
    """Read and check a description file (UTF-8 text).

    Raises:
        DescriptionError: Missing, not a file, too large, not UTF-8, empty, or with control characters.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DescriptionError(f"description_file={path} does not exist or is not a file; give the path of a text file")
    size = path.stat().st_size
    if size > 4 * MAX_DESCRIPTION_CHARS:
        raise DescriptionError(
            f"description_file={path} is {size:,} bytes; alamp accepts at most {MAX_DESCRIPTION_CHARS:,} characters: "
            "keep what defines the problem and cut the rest"
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DescriptionError(
            f"description_file={path} is not UTF-8 text (byte {exc.start} is {data[exc.start:exc.start + 1]!r}); "
            f"save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 {path.name} > fixed.txt)"
        ) from None
    return check_description(text, source=f"description_file={path}")
