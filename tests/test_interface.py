"""The controller interface the description states, and the SAR output checked and aligned against it."""

from __future__ import annotations

import pytest

from alamp.interface import StatedInterface, align_actions, align_observations, check_sar, stated_interface
from alamp.schema import SARSpec
from alamp.tasks import load_tasks


@pytest.mark.parametrize("task", load_tasks(), ids=lambda t: t.id)
def test_every_task_states_an_interface_that_agrees_with_its_gold(task) -> None:
    stated = stated_interface(task.description)
    gold = task.gold.sar
    assert stated.n_observations in (None, len(gold.observations))
    assert stated.n_actions in (None, len(gold.actions))
    assert stated.actions == [] or len(stated.actions) == len(gold.actions)


def test_forms_of_stating_the_interface() -> None:
    stated = stated_interface(
        "The drone knows, in this order: its row, its column, whether it carries the package (0 or 1), and the "
        "battery left. It can choose one of four moves, in this order: north, south, east, west."
    )
    assert stated.n_observations == 4 and stated.observations[2] == "whether it carries the package (0 or 1)"
    assert stated.actions == ["north", "south", "east", "west"] and stated.n_actions == 4
    # A list before "(in that order)"; a count with no list; a named count that wins over an odd split.
    assert stated_interface("It can move left, down, right or up (in that order).").actions == [
        "left", "down", "right", "up"
    ]  # fmt: skip
    only_count = stated_interface("the rule only gets to see one number: the stock on hand.")
    assert (only_count.n_observations, only_count.n_actions) == (1, None)
    wireless = stated_interface("The scheduler observes six values, in order: queues of users 1 to 3, then channels.")
    assert wireless.n_observations == 6 and wireless.observations == []
    assert stated_interface("A car drives up a hill; please learn to drive it.") == StatedInterface()
    # Indices give the count, and the list that follows (pendulum_swingup, pendulum_balance, dev).
    indexed = stated_interface("Its outputs, indexed 0, 1, 2, are: torque_minus (-2 N*m), coast (0) and torque_plus.")
    assert indexed.n_actions == 3 and indexed.actions == ["torque_minus (-2 N*m)", "coast (0)", "torque_plus"]
    ranged = stated_interface("Its outputs (indices 0 to 4) are a, b, c, d and e, meaning torques -2, -1, 0, 1, 2.")
    assert (ranged.n_actions, ranged.actions) == (5, [])  # the list split into ten items: the count wins
    assert stated_interface("The cells are indexed 0 to 15 row by row.") == StatedInterface()  # no seeing or doing
    assert stated_interface("It reads its cell, indexed 0 to 15.") == StatedInterface()  # one number, not sixteen
    given = stated_interface("The controller is given two measurements, in this order: the level h, then u.")
    assert given.observations == ["the level h", "u"]  # tank_level (dev)


def _sar(actions: list[str], observations: tuple[str, ...] = ("position", "velocity")) -> SARSpec:
    return SARSpec(observations=list(observations), actions=[{"name": a, "effect": f"{a}_flag = 1"} for a in actions],
                   reward="-1")  # fmt: skip


MOUNTAIN_CAR = (
    "What the driver sees, in order: the position of the car along the track and its velocity. What the driver "
    "can do, in order: accelerate to the left, don't accelerate, accelerate to the right."
)


def test_check_sar_says_what_disagrees() -> None:
    stated = stated_interface(MOUNTAIN_CAR)
    assert check_sar(_sar(["push_left", "coast", "push_right"]), stated) == ""
    message = check_sar(_sar(["accelerate_left"], ("position", "velocity", "time")), stated)
    assert "observes 2 quantities" in message and "observations has 3 (position, velocity, time)" in message
    assert "lists 3 actions: accelerate to the left; don't accelerate; accelerate to the right" in message


def test_an_action_list_of_another_length_is_rebuilt_from_the_text() -> None:
    # Real output of the embedded model (mountain_car, seed 0): one action where the text lists three.
    stated = stated_interface(MOUNTAIN_CAR)
    aligned, note = align_actions(_sar(["accelerate_left"]), stated)
    assert [a.name for a in aligned.actions] == ["accelerate_left", "don_t_accelerate", "accelerate_right"]
    assert aligned.actions[0].effect == "accelerate_left_flag = 1"  # the matching SAR action keeps its effect
    assert aligned.actions[1].effect == "" and "rebuilt" in note
    same, no_note = align_actions(_sar(["a", "b", "c"]), stated)
    assert same.actions == _sar(["a", "b", "c"]).actions and no_note == ""  # the right count: left alone


def test_extra_actions_are_dropped_and_each_sar_action_is_used_once() -> None:
    stated = stated_interface("It can choose one of four moves, in this order: north, south, east, west.")
    sar = _sar(["move_north", "move_south", "move_east", "move_west", "pick_up", "deliver", "wait"])
    aligned, _ = align_actions(sar, stated)
    assert [a.name for a in aligned.actions] == ["move_north", "move_south", "move_east", "move_west"]
    twice = _sar(["north", "north_again"])
    names = [a.name for a in align_actions(twice, stated)[0].actions]
    assert names[:2] == ["north", "south"] and len(set(names)) == 4


def test_extra_observations_are_cut_to_the_stated_count() -> None:
    # Real output (drone, seed 0): a step counter appended to the four stated observations.
    drone = stated_interface(
        "The drone knows, in this order: its row, its column, whether it carries the package (0 or 1), and the "
        "battery left."
    )
    sar = _sar(["north"], ("row", "col", "package", "battery", "steps_taken"))
    aligned, note = align_observations(sar, drone)
    assert aligned.observations == ["row", "col", "package", "battery"] and "dropped steps_taken" in note
    # Matched by words when the text lists them, whatever the SAR order.
    mountain = stated_interface(MOUNTAIN_CAR)
    aligned, _ = align_observations(_sar(["a"], ("time", "velocity", "car_position")), mountain)
    assert aligned.observations == ["car_position", "velocity"]
    # A count without a list keeps the first ones; too few observations are left alone.
    inventory = stated_interface("the rule only gets to see one number: the stock on hand in the morning.")
    assert align_observations(_sar(["a"], ("stock", "demand")), inventory)[0].observations == ["stock"]
    assert align_observations(_sar(["a"], ("stock",)), stated_interface(MOUNTAIN_CAR))[1] == ""
