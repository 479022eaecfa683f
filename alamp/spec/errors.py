"""The one error type of the spec compiler."""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(Exception):
    """A spec that cannot be compiled, with every problem found (not just the first).

    Attributes:
        problems: One message per problem. Each names the field and the expression (e.g.
            ``"updates[2] (x_dot = x_dot + tau * xacc): unknown name 'xacc'; known names: ..."``) and says what
            to change, so that a repair step (human or LLM) can act on it directly.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems: list[str] = list(problems)
        count = len(self.problems)
        header = f"the environment spec has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([header, *(f"- {p}" for p in self.problems)]))
