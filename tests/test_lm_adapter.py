"""The forgiving ChatAdapter: several alternative lists for one list field are read as the first."""

from __future__ import annotations

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError

from alamp.lm.adapter import ForgivingChatAdapter, repaired_list_fields
from alamp.signatures import EnvSignature, SARSignature

# Real answer of the embedded model (drone, seed 0): three candidate lists one after the other.
ALTERNATIVES = (
    '[[ ## updates ## ]]\n[{"target": "row", "expr": "row + 1"}, {"target": "battery", "expr": "battery - 1"}], '
    '[{"target": "row", "expr": "row"}], [{"target": "col", "expr": "col + 1"}]\n\n[[ ## completed ## ]]'
)


def test_the_first_of_several_alternative_lists_is_read() -> None:
    with pytest.raises(AdapterParseError):
        dspy.ChatAdapter().parse(EnvSignature, ALTERNATIVES)
    parsed = ForgivingChatAdapter().parse(EnvSignature, ALTERNATIVES)
    assert [(u.target, u.expr) for u in parsed["updates"]] == [("row", "row + 1"), ("battery", "battery - 1")]


def test_answers_that_parse_or_have_no_alternatives_are_untouched() -> None:
    good = '[[ ## updates ## ]]\n[{"target": "row", "expr": "row + 1"}]\n\n[[ ## completed ## ]]'
    assert ForgivingChatAdapter().parse(EnvSignature, good) == dspy.ChatAdapter().parse(EnvSignature, good)
    assert repaired_list_fields(EnvSignature, good) is None
    garbage = "[[ ## updates ## ]]\nrow goes up by one\n\n[[ ## completed ## ]]"
    assert repaired_list_fields(EnvSignature, garbage) is None
    with pytest.raises(AdapterParseError):
        ForgivingChatAdapter().parse(EnvSignature, garbage)


def test_a_model_field_is_not_a_list_field() -> None:
    # sar is one object; a list of lists there is not a set of alternatives to choose from.
    answer = '[[ ## sar ## ]]\n[["a"], ["b"]]\n\n[[ ## completed ## ]]'
    assert repaired_list_fields(SARSignature, answer) is None


def test_records_wrapped_or_written_as_statement_sets_are_unwrapped() -> None:
    # Real answer of the embedded model (inventory, seed 0), as JSON repair reads it: a statement as the target, a
    # statement in braces (a one-item list after repair) and two statements in one pair of braces (a dict).
    answer = (
        '[[ ## updates ## ]]\n[{"target": "price", "expr": "4 + demand"}, {"target": "stock = stock - demand"}, '
        '{"demand = demand + 0.5 * demand_mean"}, {"received = min(stock, demand)", "left = stock - demand"}]'
        "\n\n[[ ## completed ## ]]"
    )
    with pytest.raises(AdapterParseError):
        dspy.ChatAdapter().parse(EnvSignature, answer)
    parsed = ForgivingChatAdapter().parse(EnvSignature, answer)
    assert [(u.target, u.expr) for u in parsed["updates"]] == [
        ("price", "4 + demand"), ("stock", "stock - demand"), ("demand", "demand + 0.5 * demand_mean"),
        ("received", "min(stock, demand)"), ("left", "stock - demand"),
    ]  # fmt: skip
