"""One named step of assembly: what it reads and rewrites, why, and where the rule came from."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from alamp.assembly.state import AssemblyState

__all__ = ["Pass", "PassKind"]

PassKind = Literal["build", "repair"]
"""``build``: translates the agents' typed outputs into a part of the spec (what assembly is for; always runs).
``repair``: rewrites a slip of a small model whose meaning is unambiguous, and says so in the notes."""


@dataclass(frozen=True)
class Pass:
    """A step of :func:`alamp.assembly.assemble`.

    Attributes:
        name: Stable identifier (the key of ``Assembly.fired``; run directories and the census use it).
        run: Reads and rewrites the state; records each change with ``state.fire(note)``.
        kind: ``build`` or ``repair`` (see :data:`PassKind`).
        origin: The failure the rule was written for, from git history (empty for build passes).
        origin_is_test_task: The only known origin is a run on a test task (cartpole, mountain_car, wireless,
            drone, inventory): a rule fitted to the test split, kept but flagged (issue #10).
        note_pattern: Matches the notes this pass writes, so that run directories written before ``fired`` was
            recorded can still be counted (:mod:`alamp.assembly.census`).
    """

    name: str
    run: Callable[[AssemblyState], None]
    kind: PassKind
    origin: str = ""
    origin_is_test_task: bool = False
    note_pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @property
    def doc(self) -> str:
        """What the pass reads and rewrites and why: the docstring of its module."""
        module = inspect.getmodule(self.run)
        return inspect.cleandoc(module.__doc__ or "") if module else ""

    @property
    def summary(self) -> str:
        """The first paragraph of :attr:`doc`, on one line, without its ``Build:``/``Repair:`` prefix."""
        first = " ".join(self.doc.split("\n\n", 1)[0].split())
        return first.split(": ", 1)[1] if first.startswith(("Build: ", "Repair: ")) else first
