"""A ChatAdapter that also reads the small model's answers that list several alternatives for one field.

Asked for one list of update equations, the embedded 1.5B model sometimes writes two or three candidate lists one
after the other (``[{...}, {...}], [{...}], [{...}]``). ``json_repair`` reads that as a list of lists, which fails
validation, and the whole answer is lost. The first list is the model's first answer, so that is what is read; the
other fields parse as usual. Records wrapped in a list and dicts of statements are unwrapped the same way
(``_records``). Nothing changes for an answer that parses.

With ``grammar_field`` set (``lm.constrained_decoding: grammar``), every call of a signature whose outputs are all
typed is decoded under the grammar ``alamp.lm.grammar.signature_grammar`` builds from those types, sent in that
request-body field (``grammar`` for llama.cpp's server). A call may narrow the identifiers its expression fields
can read by passing ``expression_names`` in its config (``predictor(..., config={"expression_names": [...]})``);
the key never reaches the LM.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any

import dspy
import json_repair
from dspy.adapters.chat_adapter import field_header_pattern
from dspy.utils.exceptions import AdapterParseError

__all__ = ["EXPRESSION_NAMES_KEY", "ForgivingChatAdapter", "constrains_expressions"]


def _is_list_of_records(annotation: Any) -> bool:
    """``list[Model]`` (possibly inside ``Optional``): a list whose items are not lists themselves."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list_of_records(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is not list:
        return False
    (item,) = typing.get_args(annotation) or (Any,)
    return typing.get_origin(item) is not list and item is not list


_STATEMENT = re.compile(r"^\s*[^\W\d][\w.']*\s*=(?!=)\s*\S")


def _records(value: list[Any]) -> list[Any]:
    """The records of a list field as the model meant them.

    Several alternative lists (every item a list) -> the first; a record wrapped in a one-item list (what JSON repair
    makes of ``{"x = x + 1"}``) -> the record; a dict of statements (``{"a = 1": "b = 2"}``, JSON repair's reading of
    ``{"a = 1", "b = 2"}``) -> the statements, each then read as a record by the schema.
    """
    if all(isinstance(item, list) for item in value):
        value = value[0]
    records: list[Any] = []
    for item in value:
        if isinstance(item, list) and all(isinstance(x, str) and _STATEMENT.match(x) for x in item):
            records.extend(item)
        elif isinstance(item, dict) and item and all(
            isinstance(k, str) and _STATEMENT.match(k) and (not v or (isinstance(v, str) and _STATEMENT.match(v)))
            for k, v in item.items()
        ):
            for key, val in item.items():
                records.extend([key, val] if val else [key])
        else:
            records.append(item)
    return records


def repaired_list_fields(signature: type[dspy.Signature], completion: str) -> str | None:
    """The completion with each list field's records read as the model meant them (``_records``); None if unchanged."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in completion.splitlines():
        match = field_header_pattern.match(line.strip())
        if match:
            rest = line.strip()[match.end() :].strip()
            sections.append((match.group(1), [rest] if rest else []))
        else:
            sections[-1][1].append(line)
    changed = False
    rebuilt: list[str] = []
    for name, lines in sections:
        text = "\n".join(lines).strip()
        field = signature.output_fields.get(name) if name else None
        if field is not None and _is_list_of_records(field.annotation):
            value = json_repair.loads(text) if text else None
            if isinstance(value, list) and value:
                records = _records(value)
                if records != value:
                    text, changed = json.dumps(records), True
        rebuilt.append(text if name is None else f"[[ ## {name} ## ]]\n{text}")
    return "\n\n".join(rebuilt) if changed else None


#: Per-call config key: the identifiers the answer's expression fields may read (constrained decoding only).
EXPRESSION_NAMES_KEY = "expression_names"


def constrains_expressions(adapter: Any = None) -> bool:
    """Whether ``adapter`` (default: DSPy's configured one) decodes expression fields under a grammar, so that a call
    may pass ``expression_names``."""
    adapter = adapter if adapter is not None else dspy.settings.adapter
    return isinstance(adapter, ForgivingChatAdapter) and adapter.grammar_field is not None


class ForgivingChatAdapter(dspy.ChatAdapter):
    """``dspy.ChatAdapter`` that reads the first of several alternative lists given for one list field.

    Args:
        grammar_field: Request-body field for a GBNF grammar of the answer (None: plain decoding).
        **kwargs: ``dspy.ChatAdapter``'s arguments.
    """

    def __init__(self, *, grammar_field: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grammar_field = grammar_field

    def _constrained(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature]) -> dict[str, Any]:
        """``lm_kwargs`` with the answer's grammar added to the request body (and ``expression_names`` removed)."""
        kwargs = dict(lm_kwargs)
        names = kwargs.pop(EXPRESSION_NAMES_KEY, None)
        if self.grammar_field is None:
            return kwargs
        from alamp.lm.grammar import signature_grammar

        grammar = signature_grammar(signature, names=names)
        if grammar is None:
            return kwargs
        # The LM's own extra_body (llama.cpp's repeat_penalty) would be replaced, not merged, by a per-call one.
        body = {**(getattr(lm, "kwargs", {}) or {}).get("extra_body", {}), **kwargs.get("extra_body", {})}
        kwargs["extra_body"] = {**body, self.grammar_field: grammar}
        return kwargs

    def __call__(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature], demos: Any, inputs: Any):
        return super().__call__(lm, self._constrained(lm, lm_kwargs, signature), signature, demos, inputs)

    async def acall(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature], demos: Any, inputs: Any
    ):
        return await super().acall(lm, self._constrained(lm, lm_kwargs, signature), signature, demos, inputs)

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        try:
            return super().parse(signature, completion)
        except AdapterParseError:
            repaired = repaired_list_fields(signature, completion)
            if repaired is None:
                raise
            return super().parse(signature, repaired)
