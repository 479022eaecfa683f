"""Markers on schema fields that other layers read (kept out of the JSON schema, so prompts do not change)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXPRESSION",
    "IDENTIFIER",
    "SPEC_TEXT",
    "ExpressionMarker",
    "IdentifierMarker",
    "SpecTextMarker",
    "is_expression_field",
    "is_identifier_field",
    "is_spec_text_field",
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
class SpecTextMarker:
    """``Annotated[str, SPEC_TEXT]``: the field holds spec-language expressions or assignments (``force = -force_mag``,
    ``abs(x) > x_max``), which never contain a string literal.

    Constrained decoding refuses quotes in such a field: on epidemic_control (dev) the SAR agent wrote each action's
    effect as ``move = 'no_measures'``, and no Env answer could repair the 15 candidates that inherited it.
    """


SPEC_TEXT = SpecTextMarker()


def is_spec_text_field(field_info: object) -> bool:
    """Whether a pydantic ``FieldInfo`` carries the ``SPEC_TEXT`` marker."""
    return any(isinstance(m, SpecTextMarker) for m in getattr(field_info, "metadata", ()) or ())
