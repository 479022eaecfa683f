"""What assembly returns: the spec, its notes and which passes fired; or the problems that stopped it."""

from __future__ import annotations

from dataclasses import dataclass, field

from alamp.schema import EnvSpec
from alamp.schema._names import to_identifier

__all__ = ["Assembly", "AssemblyError", "env_id_for"]


class AssemblyError(ValueError):
    """The upstream outputs cannot make an environment spec; ``problems`` says why, one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass
class Assembly:
    """The assembled spec and the normalisations applied on the way.

    Attributes:
        spec: The environment spec.
        notes: One line per normalisation, in the order the passes made them (what a run directory shows).
        fired: Pass name -> how many times that pass changed something (passes that changed nothing are absent);
            what :mod:`alamp.assembly.census` adds up over runs.
    """

    spec: EnvSpec
    notes: list[str] = field(default_factory=list)
    fired: dict[str, int] = field(default_factory=dict)


def env_id_for(name: str | None) -> str:
    """A gymnasium id for a task (``alamp/<name>-v0``), safe for gymnasium's id pattern."""
    base = to_identifier(name) if name else "Generated"
    return f"alamp/{base}-v0"
