"""How many of the numbers a description states the Parameter agent's answer accounts for.

The small model sometimes keeps only a few of the text's constants, and no later agent can recover a constant that
was never extracted. (Seen first in a demo run, on a test task; the rule is not fitted to it: the threshold below and
the tests use train and dev tasks only.) The numbers the text states
are easy to read, so the Parameter agent's answer is checked against them: when it accounts for fewer than
``MIN_COVERAGE`` of them, the agent is sampled again and the answer that covers more is kept.

``MIN_COVERAGE`` is the lowest share the gold parameters of the train and dev tasks reach (thermostat, 0.45: its
other numbers are bounds, start ranges and action values, which belong to other agents), so a complete answer never
triggers the resample.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from alamp.schema import Parameter

__all__ = ["MIN_COVERAGE", "number_coverage", "numbers_in_text"]

MIN_COVERAGE = 0.45

# A number standing alone (not part of a name like T_in2 or x_1); 0 and 1 are left out (counts, identities).
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*[A-Za-z_])")
_REL_TOL = 1e-9


def numbers_in_text(text: str) -> set[float]:
    """The distinct magnitudes of the numbers the text states, 0 and 1 excluded."""
    found = {abs(float(m.group())) for m in _NUMBER.finditer(text)}
    return {n for n in found if n not in (0.0, 1.0)}


def _values(value: Any) -> Iterator[float]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _values(item)
    else:
        yield abs(float(value))


def number_coverage(parameters: Iterable[Parameter], text: str) -> float:
    """Share of the text's numbers (``numbers_in_text``) that some parameter's value equals (1.0 if it has none)."""
    stated = numbers_in_text(text)
    if not stated:
        return 1.0
    values = [v for p in parameters for v in _values(p.value)]
    covered = [n for n in stated if any(abs(n - v) <= _REL_TOL * max(1.0, n) for v in values)]
    return len(covered) / len(stated)
