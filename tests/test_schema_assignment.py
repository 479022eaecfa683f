"""How ``Assignment`` reads the shapes a small model writes for ``{"target": ..., "expr": ...}``."""

from __future__ import annotations

import json_repair
import pytest
from pydantic import TypeAdapter, ValidationError

from alamp.schema import Assignment

UPDATES = TypeAdapter(list[Assignment])


def test_a_comma_written_for_a_colon_is_recovered_after_json_repair() -> None:
    # Real output of the embedded model for the inventory task (Env agent).
    raw = (
        '[{"target": "stock", "expr": "stock + move - demand"}, '
        '{"demand", "expr": "demand + 0.5 * (stock - stock_capacity)"}, {"move", "expr": "order"}]'
    )
    updates = UPDATES.validate_python(json_repair.loads(raw))
    assert [(u.target, u.expr) for u in updates] == [
        ("stock", "stock + move - demand"),
        ("demand", "demand + 0.5 * (stock - stock_capacity)"),
        ("move", "order"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"name": "y", "expression": "y * 2"}, ("y", "y * 2")),
        ({"variable": "q", "formula": "q - 1"}, ("q", "q - 1")),
        ({"z": "z + dt"}, ("z", "z + dt")),
        ({"z": 3}, ("z", "3")),
        ("x = x + 1", ("x", "x + 1")),
        ("θ = θ + dt * ω", ("theta", "θ + dt * ω")),
        # Real output (mountain_car, seed 0): one filled pair beside an empty one.
        ({"velocity_next": "max(velocity_next, -0.07)", "move": ""}, ("velocity_next", "max(velocity_next, -0.07)")),
    ],
)
def test_unambiguous_shapes_are_read(value: object, expected: tuple[str, str]) -> None:
    update = Assignment.model_validate(value)
    assert (update.target, update.expr) == expected


@pytest.mark.parametrize(
    "value",
    [
        "x += 1",  # an augmented assignment as a bare string: not a plain statement, left to the error
        "a == b",  # a comparison is not an assignment
        {"a": "1", "b": "2"},  # two pairs: which is the target?
        {"expr": "x + 1"},  # no target at all
        {"target": "x"},  # no expression
    ],
)
def test_ambiguous_shapes_are_still_errors(value: object) -> None:
    with pytest.raises(ValidationError):
        Assignment.model_validate(value)


def test_an_action_effect_written_as_a_mapping_is_read_as_assignments() -> None:
    # Real output of the embedded model (inventory, seed 1): "effect": {"price": 16, "cost_delivery": 9}.
    from alamp.assemble import parse_assignments
    from alamp.schema import SARAction

    action = SARAction.model_validate({"name": "order_4", "effect": {"price": 16, "cost_delivery": 9}})
    assert action.effect == "price = 16; cost_delivery = 9"
    updates, _ = parse_assignments(action.effect)
    assert [(u.target, u.expr) for u in updates] == [("price", "16"), ("cost_delivery", "9")]
