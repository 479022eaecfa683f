"""Grammars for constrained decoding: an agent's whole answer, from its signature's output types.

The small local model writes answers that do not parse (a list where a record belongs, prose inside a JSON value)
and expressions that read names nobody defined (``x_ddot`` where the text's formula for it was never written).
llama.cpp can decode under a GBNF grammar (``llama_cpp.server`` accepts ``grammar`` in the request body), so
nothing outside the grammar can be sampled. Measured on the embedded model: MountainCar's step under a grammar whose
identifiers are only the names defined so far came out exact in 3 of 8 samples; free text 0 of 8.

``signature_grammar`` builds the grammar of a ``dspy.ChatAdapter`` answer for a signature: each output field's
``[[ ## name ## ]]`` header followed by its value in JSON, the value's grammar compiled from the field's pydantic
type (JSON schema -> GBNF with llama-cpp-python's converter). The signature stays the one source of each output's
type: there is no second, hand-written schema. String fields marked as expressions (``Annotated[str, EXPRESSION]``,
e.g. ``Assignment.expr``; the marker stays out of the JSON schema, so prompts do not change) are decoded under
``expression_rules``: arithmetic whose identifiers are exactly a given set of names and whose functions are the spec
language's.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "MAX_LIST_ITEMS",
    "GrammarUnavailableError",
    "choice_rule",
    "expression_rules",
    "signature_grammar",
    "spec_text_rules",
    "supports_grammar",
]

# Placeholder patterns the JSON-schema converter turns into literals we can find and replace by the spec language's
# rules: an expression narrowed to a name set, and spec text of any identifiers (an expression, an optional one, or
# assignments).
_PLACEHOLDER = "ALAMPEXPRESSIONPLACEHOLDER"
_CHOICE_PLACEHOLDER = "ALAMPCHOICEPLACEHOLDER"
# Keys are GBNF rule names once prefixed with "spec-" (llama.cpp's rule names: letters, digits and dashes only).
_SPEC_PLACEHOLDERS = {
    "expression": "ALAMPSPECEXPRESSIONPLACEHOLDER",
    "optional-expression": "ALAMPSPECOPTIONALEXPRESSIONPLACEHOLDER",
    "assignments": "ALAMPSPECASSIGNMENTSPLACEHOLDER",
    "step": "ALAMPSPECSTEPPLACEHOLDER",
}
_LOCAL_EXTRA_HINT = "pip install 'alamp[local]' (or run 'make demo', which does it)"


class GrammarUnavailableError(ImportError):
    """The JSON-schema -> GBNF converter (llama-cpp-python, the ``local`` extra) is not installed."""


def supports_grammar(annotation: Any) -> bool:
    """Whether an output type is decoded as JSON by the chat adapter (and so can be constrained).

    Plain strings are free text in ``dspy.ChatAdapter``'s format (code, prose): they are left unconstrained.
    """
    return annotation is not str


def _converter() -> Any:
    try:
        from llama_cpp.llama_grammar import SchemaConverter
    except ImportError as exc:  # the optional extra
        raise GrammarUnavailableError(
            f"constrained decoding needs llama-cpp-python's JSON-schema converter: {_LOCAL_EXTRA_HINT}"
        ) from exc
    return SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)


def _gbnf_literal(text: str) -> str:
    return json.dumps(text)  # GBNF string literals use JSON's escapes


def _marked_properties(annotation: Any) -> dict[str, dict[str, str]]:
    """Model title -> {property: kind} for every pydantic model reachable from ``annotation``.

    Kinds: ``"expression"`` (narrowable to a name set), ``"choice"`` (one name of the set), ``"identifier"``, or a
    spec-text form (``"spec-expression"``,
    ``"spec-optional-expression"`` when the field defaults to empty text, ``"spec-assignments"``).
    """
    import typing

    from pydantic import BaseModel

    from alamp.schema._markers import is_choice_field, is_expression_field, is_identifier_field, spec_text_form

    found: dict[str, dict[str, str]] = {}
    stack, seen = [annotation], set()
    while stack:
        tp = stack.pop()
        if id(tp) in seen:
            continue
        seen.add(id(tp))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            title = tp.model_config.get("title") or tp.__name__
            kinds = {}
            for name, info in tp.model_fields.items():
                if is_expression_field(info):
                    kinds[name] = "expression"
                elif is_choice_field(info):
                    kinds[name] = "choice"
                elif is_identifier_field(info):
                    kinds[name] = "identifier"
                elif (form := spec_text_form(info)) is not None:
                    optional = form == "expression" and info.default == ""
                    kinds[name] = f"spec-{'optional-' if optional else ''}{form}"
            found[title] = kinds
            stack += [info.annotation for info in tp.model_fields.values()]
        stack += list(typing.get_args(tp))
    return {title: kinds for title, kinds in found.items() if kinds}


_IDENTIFIER_SCHEMA = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}


def _mark_fields(node: Any, marked: dict[str, dict[str, str]], *, expressions: bool) -> Any:
    """A copy of a JSON schema whose identifier properties allow only identifiers, whose spec-text properties become
    their form's placeholder pattern, and whose expression and choice properties become the placeholder of the
    narrowed expression or of one name of the set (when ``expressions``, i.e. a name set is given; else spec text
    of any identifiers, and any identifier)."""
    if isinstance(node, list):
        return [_mark_fields(v, marked, expressions=expressions) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _mark_fields(v, marked, expressions=expressions) for k, v in node.items()}
    kinds = marked.get(node.get("title", ""), {})
    if kinds and isinstance(out.get("properties"), dict):
        for prop, kind in kinds.items():
            if prop not in out["properties"]:
                continue
            if kind == "identifier" or (kind == "choice" and not expressions):
                out["properties"][prop] = dict(_IDENTIFIER_SCHEMA)
            elif kind == "choice":
                out["properties"][prop] = {"type": "string", "pattern": f"^{_CHOICE_PLACEHOLDER}$"}
            elif kind == "expression" and expressions:
                out["properties"][prop] = {"type": "string", "pattern": f"^{_PLACEHOLDER}$"}
            else:  # spec text, or an update's expression not narrowed to a name set
                form = kind.removeprefix("spec-") if kind.startswith("spec-") else "step"
                out["properties"][prop] = {"type": "string", "pattern": f"^{_SPEC_PLACEHOLDERS[form]}$"}
    return out


#: The longest list any answer may hold. Under a grammar the model cannot end an answer early, and a looping one
#: ran to the token limit (the single-model baseline on elevator, dev: 3,071 tokens, then unparsable); the task set's
#: longest gold list has 13 items.
MAX_LIST_ITEMS = 32


def _bounded_lists(node: Any) -> Any:
    """A copy of a JSON schema whose arrays hold at most ``MAX_LIST_ITEMS`` items."""
    if isinstance(node, list):
        return [_bounded_lists(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _bounded_lists(v) for k, v in node.items()}
    if out.get("type") == "array" and "maxItems" not in out:
        out["maxItems"] = MAX_LIST_ITEMS
    return out


def expression_rules(names: Iterable[str] | None, functions: Iterable[str], *, rule: str = "expr") -> str:
    """GBNF rules (root rule ``rule``) for one expression of the spec language.

    The syntax is the spec language's (``alamp.spec.expr``): numbers, names, calls of its functions, unary ``-`` and
    ``not``, arithmetic, comparisons (chained too), ``and``/``or``, parentheses and ``a if condition else b`` (or
    ``if condition then a else b``, which assembly rewrites). No
    string, tuple, subscript, statement or assignment can be written.

    Args:
        names: The identifiers an expression may read (constants, state, actions, helper quantities defined so far),
            or None for any identifier.
        functions: The functions an expression may call.
        rule: The root rule's name; every helper rule is prefixed with it.

    Returns:
        GBNF text defining ``rule`` and its helper rules, to be joined with a grammar that references ``rule``.
    """

    def alternatives(words: Iterable[str]) -> str:
        # Longest first so that a name that prefixes another (x, x_dot) cannot stop the longer one being chosen.
        ordered = sorted(set(words), key=lambda w: (-len(w), w))
        return " | ".join(_gbnf_literal(w) for w in ordered)

    r = rule
    name_list = None if names is None else [n for n in names if re.fullmatch(r"[A-Za-z_]\w*", n)]
    function_list = [f for f in functions if re.fullmatch(r"[A-Za-z_]\w*", f)]
    has_names = name_list is None or bool(name_list)
    rules = [
        # "if c then a else b" too: refused it, the model ran the keywords into names (frozen_lake, dev: "ifrow ==
        # goal_row and col == goal_colthengoal_rewardelse0"); assembly rewrites it (if_then_else_as_conditional).
        f'{r} ::= {r}-chain ("if " {r}-chain "else " {r})? | "if " {r}-chain "then " {r} "else " {r}',
        f"{r}-chain ::= {r}-ws {r}-term ({r}-ws {r}-binop {r}-ws {r}-term)* {r}-ws",
        f'{r}-term ::= ("-" | "not ")? {r}-ws {r}-atom',
        f"{r}-atom ::= {r}-number"
        + (f" | {r}-name" if has_names else "")
        + (f' | {r}-function "(" {r} ("," {r})* ")"' if function_list else "")
        + f' | "(" {r} ")"',
        f'{r}-number ::= [0-9]+ ("." [0-9]+)? ([eE] [-+]? [0-9]+)?',
        f'{r}-binop ::= "**" | "*" | "//" | "/" | "%" | "+" | "-" | "<=" | ">=" | "<" | ">" | "==" | "!=" '
        '| "and " | "or "',
        f'{r}-ws ::= " "?',
    ]
    if name_list is None:
        rules.append(f"{r}-name ::= [A-Za-z_] [A-Za-z0-9_]*")
    elif name_list:
        rules.append(f"{r}-name ::= {alternatives(name_list)}")
    if function_list:
        rules.append(f"{r}-function ::= {alternatives(function_list)}")
    return "\n".join(rules)


def choice_rule(names: Iterable[str]) -> str:
    """The GBNF rule ``choice``: exactly one of ``names`` (identifiers only; longest first, as in expressions).

    Raises:
        ValueError: When no name is an identifier (a choice with no option cannot be decoded).
    """
    options = sorted({n for n in names if re.fullmatch(r"[A-Za-z_]\w*", n)}, key=lambda w: (-len(w), w))
    if not options:
        raise ValueError("a choice needs at least one option that is an identifier")
    return "choice ::= " + " | ".join(_gbnf_literal(n) for n in options)


def spec_text_rules(functions: Iterable[str]) -> str:
    """GBNF rules for spec text of any identifiers.

    - ``spec-expression``: one expression; ``spec-optional-expression``: one, or nothing.
    - ``spec-assignments``: ``force = -force_mag; cost = 1`` (``=``, ``+=`` or ``-=``, separated by ``;`` or ``,``);
      never empty: allowed an empty effect, the model gave every action none (epidemic_control, dev), and an action
      that sets nothing is controlled only through its name's indicator.
    - ``spec-step`` (an update's expression when any name may be read): an expression, or a conditional statement
      ``if c: x = a elif d: y = b else: x = e`` (``else if`` for ``elif``; a bare ``else e`` for the update's own
      target), which the ``conditional_statement_as_updates`` assembly pass rewrites into one expression per target.
      The small model writes a step by cases this way (39 answers over the dev runs); refused, it ran the keyword
      into a name (``ifmove == left``, frozen_lake_slippery, dev).
    """
    return "\n".join(
        [
            expression_rules(None, functions, rule="spec-expression"),
            'spec-optional-expression ::= spec-expression | ""',
            'spec-assignments ::= spec-assignment (("; " | ";" | ", ") spec-assignment)*',
            'spec-assignment ::= " "? spec-expression-name " "? ("=" | "+=" | "-=") spec-expression',
            "spec-step ::= spec-expression | spec-conditional",
            'spec-conditional ::= "if " spec-expression ":" spec-branch '
            '((" elif " | " else if " | "elif " | "else if ") spec-expression ":" spec-branch)* '
            '((" else:" | "else:") spec-branch | (" else " | "else ") spec-expression)?',
            'spec-branch ::= spec-assignment ("; " spec-assignment)*',
        ]
    )


def _field_schemas(signature: Any) -> list[tuple[str, dict[str, Any]]]:
    from pydantic import TypeAdapter

    return [(name, TypeAdapter(field.annotation).json_schema()) for name, field in signature.output_fields.items()]


@functools.lru_cache(maxsize=128)
def _cached_grammar(signature: Any, names: tuple[str, ...] | None, functions: tuple[str, ...]) -> str | None:
    fields = _field_schemas(signature)
    annotations = [f.annotation for f in signature.output_fields.values()]
    if not fields or not all(supports_grammar(a) for a in annotations):
        return None
    converter = _converter()
    definitions: dict[str, Any] = {}
    for _, schema in fields:
        definitions |= schema.get("$defs", {})
    combined: dict[str, Any] = {
        "$defs": definitions,
        "properties": {name: {k: v for k, v in s.items() if k != "$defs"} for name, s in fields},
    }
    marked: dict[str, dict[str, str]] = {}
    for annotation in annotations:
        marked |= _marked_properties(annotation)
    combined = _bounded_lists(_mark_fields(combined, marked, expressions=names is not None))
    combined = converter.resolve_refs(combined, "signature")
    field_rules = [(name, converter.visit(combined["properties"][name], f"field-{name}")) for name, _ in fields]
    parts = [f'{_gbnf_literal(f"[[ ## {name} ## ]]")} "\\n" {rule}' for name, rule in field_rules]
    root = ' "\\n\\n" '.join(parts) + ' "\\n\\n" ' + _gbnf_literal("[[ ## completed ## ]]") + ' "\\n"?'
    grammar = converter.format_grammar()
    if names is not None and (literal := _gbnf_literal(_PLACEHOLDER)) in grammar:
        grammar = grammar.replace(literal, "expr") + "\n" + expression_rules(names, functions)
    if names is not None and (literal := _gbnf_literal(_CHOICE_PLACEHOLDER)) in grammar:
        grammar = grammar.replace(literal, "choice") + "\n" + choice_rule(names)
    spec_literals = {form: _gbnf_literal(p) for form, p in _SPEC_PLACEHOLDERS.items()}
    if any(literal in grammar for literal in spec_literals.values()):
        for form, literal in spec_literals.items():
            grammar = grammar.replace(literal, f"spec-{form}")
        grammar += "\n" + spec_text_rules(functions)
    return f"root ::= {root}\n{grammar}"


def signature_grammar(
    signature: Any, *, names: Iterable[str] | None = None, functions: Iterable[str] | None = None
) -> str | None:
    """The GBNF grammar of a ``dspy.ChatAdapter`` answer to ``signature``.

    Args:
        signature: A ``dspy.Signature`` class.
        names: When given, every expression field (``Annotated[str, EXPRESSION]``) may read only these identifiers.
        functions: The functions expressions may call (default: the spec language's table).

    Returns:
        The grammar text, or None when some output field is free text (then the answer is left unconstrained).

    Raises:
        GrammarUnavailableError: When llama-cpp-python is not installed.
    """
    if functions is None:
        from alamp.spec.expr import FUNCTIONS

        functions = FUNCTIONS
    name_key = None if names is None else tuple(sorted(set(names)))
    return _cached_grammar(signature, name_key, tuple(sorted(set(functions))))
