"""List-valued parameters as indexed scalar constants (the Env agent is shown these too)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from alamp.schema import Parameter

__all__ = ["expand_parameters"]


def _flatten(value: float | list[Any], path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], float]]:
    """Row-major ``(index path, number)`` pairs of a (possibly nested) list of numbers."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _flatten(item, (*path, i))
    else:
        yield path, float(value)


def expand_parameters(
    *, parameters: Sequence[Parameter], reserved: Iterable[str] = ()
) -> tuple[list[Parameter], list[str]]:
    """Replace every list-valued parameter by scalar parameters, one per element, in row-major order.

    ``building_locations = [[1, 1], [1, 3]]`` becomes ``building_locations_0_0 = 1.0``, ...,
    ``building_locations_1_1 = 3.0``; a flat list gives ``name_0``, ``name_1``, .... A flat list of two numbers is
    usually a point, so it also gets ``name_x`` and ``name_y`` when those names are free. Scalar parameters are
    kept as they are, and an element name that a scalar parameter already has is left to that parameter.

    Args:
        parameters: The Parameter agent's output.
        reserved: Names taken elsewhere (e.g. variables); ``_x``/``_y`` aliases never take one.

    Returns:
        The scalar parameters (what the Env agent should be shown as constants), and one note per expanded list.
    """
    taken = {p.name for p in parameters if not isinstance(p.value, list)}
    blocked = set(reserved)
    out: list[Parameter] = []
    notes: list[str] = []
    for param in parameters:
        if not isinstance(param.value, list):
            out.append(param)
            continue
        elements = list(_flatten(param.value))
        made: list[str] = []
        skipped: list[str] = []
        for path, number in elements:
            index = "".join(f"[{i}]" for i in path)
            element_name = "_".join([param.name, *(str(i) for i in path)])
            if element_name in taken:
                skipped.append(element_name)
                continue
            taken.add(element_name)
            made.append(element_name)
            description = f"{param.description} ({param.name}{index})".strip()
            out.append(Parameter(name=element_name, value=number, unit=param.unit, description=description))
        aliases: list[str] = []
        if len(param.value) == 2 and not any(isinstance(v, list) for v in param.value):
            free = [f"{param.name}_{axis}" for axis in "xy"]
            if not (set(free) & (taken | blocked)):
                for alias, axis, (_, number) in zip(free, "xy", elements, strict=True):
                    taken.add(alias)
                    aliases.append(alias)
                    description = f"{param.description} ({axis} of {param.name})".strip()
                    out.append(Parameter(name=alias, value=number, unit=param.unit, description=description))
        note = f"parameter {param.name!r} is a list; its elements are the constants {made}"
        if aliases:
            note += f", also usable as {aliases}"
        if skipped:
            note += f"; {skipped} are other parameters and were kept as those"
        notes.append(note)
    return out, notes
