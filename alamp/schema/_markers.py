"""Markers on schema fields that other layers read (kept out of the JSON schema, so prompts do not change)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHOICE",
    "EXPRESSION",
    "IDENTIFIER",
    "SPEC_ASSIGNMENTS",
    "SPEC_EXPRESSION",
    "ChoiceMarker",
    "ExpressionMarker",
    "IdentifierMarker",
    "SpecTextMarker",
    "is_choice_field",
    "is_expression_field",
    "is_identifier_field",
    "spec_text_form",
]


@dataclass(frozen=True)
class ExpressionMarker:
    """``Annotated[str, EXPRESSION]``: the field holds an expression of the spec language (``alamp.spec.expr``).

    Constrained decoding (``alamp.lm.grammar``) decodes such fields under an expression grammar whose identifiers
    are the names defined at that point.
    """


EXPRESSION = ExpressionMarker()


def is_expression_field(field_info: object) -> bool:
    """Whether a pydantic ``FieldInfo`` carries the ``EXPRESSION`` marker."""
    return any(isinstance(m, ExpressionMarker) for m in getattr(field_info, "metadata", ()) or ())


@dataclass(frozen=True)
class IdentifierMarker:
    """``Annotated[str, IDENTIFIER]``: the field is a Python identifier (constrained decoding writes only those)."""


IDENTIFIER = IdentifierMarker()


def is_identifier_field(field_info: object) -> bool:
    """Whether a pydantic ``FieldInfo`` carries the ``IDENTIFIER`` marker."""
    return any(isinstance(m, IdentifierMarker) for m in getattr(field_info, "metadata", ()) or ())


@dataclass(frozen=True)
class ChoiceMarker:
    """``Annotated[str, CHOICE]``: the field names one of the options a call offers.

    Constrained decoding (``alamp.lm.grammar``) decodes it as exactly one of the names passed with the call
    (``expression_names``, the same key that narrows expressions); without names, as any identifier. A small model
    picks from a short list better than it writes a number (which constant the text's ``m`` is: 19 of 30 answers right
    on the train/dev symbols, against 14 of 33 when the number itself was asked for).
    """


CHOICE = ChoiceMarker()


def is_choice_field(field_info: object) -> bool:
    """Whether a pydantic ``FieldInfo`` carries the ``CHOICE`` marker."""
    return any(isinstance(m, ChoiceMarker) for m in getattr(field_info, "metadata", ()) or ())


@dataclass(frozen=True)
class SpecTextMarker:
    """``Annotated[str, SPEC_EXPRESSION]`` / ``Annotated[str, SPEC_ASSIGNMENTS]``: the field holds text of the spec
    language written by an upstream agent: one expression (a reward, a condition, a start value) or assignments
    separated by ``;`` (an action's effect, ``force = -force_mag; cost = 1``).

    Constrained decoding decodes such fields under the spec language's syntax, with any identifier (what the names
    mean is the assembly's business): no string literal (the SAR agent wrote ``move = 'no_measures'`` on
    epidemic_control, dev), no statement (``if move == left: row = ...``) and no tuple (``(row, col) == (3, 3)``, the
    SAR reward on frozen_lake_slippery, dev), which no Env answer could repair.

    Attributes:
        form: ``"expression"`` or ``"assignments"``.
    """

    form: str = "expression"


SPEC_EXPRESSION = SpecTextMarker("expression")
SPEC_ASSIGNMENTS = SpecTextMarker("assignments")


def spec_text_form(field_info: object) -> str | None:
    """The ``form`` of a field's spec-text marker, or None when it has none."""
    for marker in getattr(field_info, "metadata", ()) or ():
        if isinstance(marker, SpecTextMarker):
            return marker.form
    return None
