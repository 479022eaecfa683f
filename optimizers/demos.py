"""Per-agent labeled demos from the tasks' gold outputs.

Every task in ``data/tasks`` carries the expected output of each agent (``gold.parameters``, ``gold.variables``,
``gold.mdp``, ``gold.sar``, ``gold.env_spec``...). Since each agent's inputs are upstream agents' outputs, the gold
outputs make a complete, valid demo for *every* agent, not only for the whole pipeline: a demo for agent X is a
``dspy.Example`` of X's signature inputs (the description and the upstream gold outputs) and its gold output.

Signature field names do not always equal gold names (the Env agent's ``constants`` are the gold ``parameters``,
its ``transitions`` the gold ``mdp.transitions``), so ``field_sources`` maps a signature field to a dotted path
into the gold record, and ``field_defaults`` gives literal values (``feedback: ""`` for a first attempt). Both
come from ``conf/optimizer/labeled.yaml``.

No LLM call is needed, which makes :class:`PerAgentLabeledFewShot` the practical optimizer on a 2-core CPU.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dspy

from alamp.nearest_demos import POOL_KEY

__all__ = [
    "DEFAULT_FIELD_SOURCES",
    "DEFAULT_FIELD_DEFAULTS",
    "gold_record",
    "resolve_path",
    "agent_of",
    "demos_for_predictor",
    "PerAgentLabeledFewShot",
]

log = logging.getLogger(__name__)

# Signature field -> dotted path into the gold record, where the names differ (see signatures/).
DEFAULT_FIELD_SOURCES: dict[str, str] = {
    "constants": "parameters",
    "state": "variables",
    "actions": "sar.actions",
    "transitions": "mdp.transitions",
    "updates": "env_spec.updates",
}
# Signature field -> literal value for inputs that gold cannot supply (a first attempt has no feedback).
DEFAULT_FIELD_DEFAULTS: dict[str, Any] = {"feedback": ""}
# Output fields that a demo may lack: the adapter renders them as "not supplied" (ChainOfThought's reasoning).
_OPTIONAL_OUTPUTS = frozenset({"reasoning"})
_MISSING = object()


def _as_mapping(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dspy.Example):
        return dict(obj.toDict())
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        # Keep nested pydantic objects (not dumped dicts), so the demos carry typed values.
        return {name: getattr(obj, name) for name in type(obj).model_fields}
    return dict(vars(obj))


def gold_record(item: Any) -> dict[str, Any]:
    """Flatten a task (or an example made from one) into ``{"description": ..., "parameters": ..., ...}``.

    Accepts an ``alamp.tasks.Task`` (``.description``, ``.gold``), a ``dspy.Example`` or a mapping; a nested
    ``gold`` entry is merged into the top level.

    Args:
        item: One task or example.

    Returns:
        The record the demo fields are looked up in; includes ``task_id`` where the item has an id.
    """
    record = _as_mapping(item)
    gold = record.pop("gold", None)
    if gold is None and hasattr(item, "gold"):
        gold = item.gold
    record.update({k: v for k, v in _as_mapping(gold).items() if v is not None})
    if "task_id" not in record and record.get("id") is not None:
        record["task_id"] = record["id"]
    if "symbols" not in record and isinstance(record.get("description"), str):
        # An input the program derives from the text (``Description.symbols``), so the demo derives it the same way.
        from alamp.description import Description

        record["symbols"] = list(Description.read(record["description"]).symbols)
    record.update(_step_item(record))
    record.update(_symbol_item(record))
    return record


def _symbol_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """The Symbol value agent's demo fields: the first gold parameter named (or ``symbol``-ed) by a mathematical symbol
    the text's formulas read but that the text values only in prose ("the carriage weighs 2 kg" for ``m``), with the
    formulas reading it, the gold parameters as the agent reads constants, the question, and the pick of that parameter
    (none when no gold parameter is such a symbol): the choice asked for, the name of the constant the symbol is."""
    parameters = record.get("parameters")
    if not parameters or not isinstance(record.get("description"), str) or "question" in record:
        return {}
    from alamp.description import Description, formula_statements
    from alamp.schema import Parameter, SymbolConstant
    from alamp.symbol_values import constant_lines, is_math_symbol, symbol_question

    def get(parameter: Any, key: str) -> Any:
        return parameter.get(key, "") if isinstance(parameter, Mapping) else getattr(parameter, key, "")

    text = Description.read(record["description"])
    statements = formula_statements(text.text)
    for parameter in parameters:
        symbol = get(parameter, "symbol") or get(parameter, "name")
        if not is_math_symbol(symbol) or symbol in text.constants:
            continue  # a word, or a constant the text states as `symbol = value` (no question to ask)
        formulas = [f"{target} = {formula}" for target, formula, reads in statements if symbol in reads]
        if formulas:
            answer = SymbolConstant(quantity=get(parameter, "description"), which_constant=get(parameter, "name"))
            known = [p if isinstance(p, Parameter) else Parameter.model_validate(p) for p in parameters]
            return {
                "formulas": formulas,
                "known_constants": constant_lines(known),
                "question": symbol_question(symbol),
                "answer": answer,
            }
    return {}


def _step_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """The Env item agent's demo fields from the gold step: its last update that reads an earlier update's target
    (so the demo shows a step reading what was computed before it), with the updates before it."""
    updates = resolve_path(record, "env_spec.updates")
    if updates is _MISSING or not updates or "target" in record:
        return {}

    def field(update: Any, name: str) -> Any:
        return update[name] if isinstance(update, Mapping) else getattr(update, name)

    chosen = len(updates) - 1
    for i in range(len(updates) - 1, 0, -1):
        earlier = {field(u, "target") for u in updates[:i]}
        if any(name in field(updates[i], "expr") for name in earlier):
            chosen = i
            break
    return {
        "step_so_far": [f"{field(u, 'target')} = {field(u, 'expr')}" for u in updates[:chosen]],
        "target": field(updates[chosen], "target"),
        "assignment": updates[chosen],
    }


def resolve_path(record: Mapping[str, Any], path: str) -> Any:
    """Look up ``a.b.c`` in a record whose values are mappings or objects; returns a sentinel when absent."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
        else:
            value = getattr(value, part, _MISSING)
        if value is _MISSING or value is None:
            return _MISSING
    return value


def agent_of(predictor_name: str) -> str:
    """``"parameter.predict"`` (a ChainOfThought's inner Predict) → ``"parameter"``."""
    return predictor_name.split(".", 1)[0]


def _field_value(
    record: Mapping[str, Any], field: str, sources: Mapping[str, str], defaults: Mapping[str, Any]
) -> Any:
    value = resolve_path(record, sources.get(field, field))
    if value is _MISSING and field in defaults:
        return defaults[field]
    return value


def _size(example: dspy.Example) -> int:
    return len(json.dumps(example.toDict(), default=lambda o: o.model_dump() if hasattr(o, "model_dump") else str(o)))


def demos_for_predictor(
    predictor: dspy.Predict,
    records: Sequence[Mapping[str, Any]],
    *,
    field_sources: Mapping[str, str] | None = None,
    field_defaults: Mapping[str, Any] | None = None,
) -> list[dspy.Example]:
    """Every complete labeled demo the gold records give for one predictor.

    A record gives a demo when it supplies every input field and every output field (except optional ones such as
    ChainOfThought's ``reasoning``) of the predictor's signature.

    Args:
        predictor: The agent's ``dspy.Predict``.
        records: From :func:`gold_record`.
        field_sources: Signature field → dotted path in the record (default :data:`DEFAULT_FIELD_SOURCES`).
        field_defaults: Signature field → literal value when the record lacks it (default
            :data:`DEFAULT_FIELD_DEFAULTS`).

    Returns:
        Demos in record order, each with its inputs marked (``with_inputs``) and ``task_id`` kept out of the prompt.
    """
    sources = DEFAULT_FIELD_SOURCES if field_sources is None else field_sources
    defaults = DEFAULT_FIELD_DEFAULTS if field_defaults is None else field_defaults
    demos = (_demo_from_record(predictor, record, sources, defaults) for record in records)
    return [d for d in demos if d is not None]


def _demo_from_record(
    predictor: dspy.Predict, record: Mapping[str, Any], sources: Mapping[str, str], defaults: Mapping[str, Any]
) -> dspy.Example | None:
    inputs = list(predictor.signature.input_fields)
    outputs = [f for f in predictor.signature.output_fields if f not in _OPTIONAL_OUTPUTS]
    values = {f: _field_value(record, f, sources, defaults) for f in inputs + outputs}
    if any(v is _MISSING for v in values.values()):
        return None
    return dspy.Example(**values).with_inputs(*inputs)


def _k_for(k: int | Mapping[str, int], agent: str) -> int:
    if isinstance(k, Mapping):
        return int(k.get(agent, k.get("default", 1)))
    return int(k)


class PerAgentLabeledFewShot:
    """Set each agent's demos from gold outputs: k labeled demos per agent, no LLM calls.

    Args:
        k: Demos per agent, or a mapping ``{"default": 1, "env": 2}``.
        seed: Seed for sampling which tasks give the demos.
        max_demo_chars: Skip demos longer than this (serialised JSON); small models have small contexts.
        field_sources: See :func:`demos_for_predictor`.
        field_defaults: See :func:`demos_for_predictor`.
        only_empty: Fill only predictors that have no demos yet (used to top up another optimizer's result).
        select: ``random`` (seeded sample), ``shortest`` (the k shortest demos: every demo token is prompt the
            model must read on each call, which is most of a call's cost on a CPU), or ``nearest`` (every train
            task's demo kept as a pool; while the program runs, each agent sees the k whose descriptions are nearest
            to the one it reads: ``alamp.nearest_demos``).
    """

    def __init__(
        self,
        *,
        k: int | Mapping[str, int] = 1,
        seed: int = 0,
        max_demo_chars: int | None = None,
        field_sources: Mapping[str, str] | None = None,
        field_defaults: Mapping[str, Any] | None = None,
        only_empty: bool = False,
        select: str = "random",
    ) -> None:
        if select not in ("random", "shortest", "nearest"):
            raise ValueError(f"select={select!r}; use 'random', 'shortest' or 'nearest'")
        self.k = dict(k) if isinstance(k, Mapping) else int(k)
        self.seed = seed
        self.max_demo_chars = max_demo_chars
        self.field_sources = {**DEFAULT_FIELD_SOURCES, **dict(field_sources or {})}
        self.field_defaults = {**DEFAULT_FIELD_DEFAULTS, **dict(field_defaults or {})}
        self.only_empty = only_empty
        self.select = select
        self.report: dict[str, dict[str, Any]] = {}

    def compile(self, student: dspy.Module, *, trainset: Iterable[Any], copy: bool = True) -> dspy.Module:
        """Return a copy of ``student`` whose predictors hold per-agent gold demos.

        Args:
            student: The program (its structure only; existing demos are kept when ``only_empty``).
            trainset: Tasks or examples (see :func:`gold_record`).
            copy: Work on a deep copy (default) rather than on ``student`` itself.

        Returns:
            The compiled program. ``self.report`` records, per predictor, how many demos were available and
            which tasks were used; a predictor no gold can feed (e.g. Repair) keeps no demos.
        """
        program = student.deepcopy() if copy else student
        records = [gold_record(item) for item in trainset]
        rng = random.Random(self.seed)
        self.report = {}
        for name, predictor in program.named_predictors():
            if self.only_empty and predictor.demos:
                continue
            built = [
                (_demo_from_record(predictor, r, self.field_sources, self.field_defaults), r.get("task_id"))
                for r in records
            ]
            pairs = [(d, i) for d, i in built if d is not None]
            if self.max_demo_chars is not None:
                pairs = [(d, i) for d, i in pairs if _size(d) <= self.max_demo_chars]
            k = _k_for(self.k, agent_of(name))
            if self.select == "nearest":
                chosen = [(d.copy(**{POOL_KEY: k}), i) for d, i in pairs] if k > 0 else []
            elif self.select == "shortest":
                chosen = sorted(pairs, key=lambda pair: _size(pair[0]))[:k]
            else:
                chosen = rng.sample(pairs, min(k, len(pairs))) if pairs else []
            predictor.demos = [d for d, _ in chosen]
            self.report[name] = {"available": len(pairs), "used": len(chosen), "tasks": [i for _, i in chosen]}
            if not chosen:
                log.info("labeled demos: none for predictor %s (no gold supplies all its fields)", name)
        program._compiled = True
        return program
