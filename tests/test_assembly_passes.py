"""Each assembly pass on an example from a train or dev task (never a test task: see data/tasks/*.yaml ``split``).

Every repair pass has a test here (``test_every_repair_pass_has_a_test`` checks it): the gold outputs of a train or
dev task with the slip the pass repairs, checked for (a) that pass and only it firing, (b) its note, which the
census can attribute to it, (c) the behaviour of the repaired spec, and (d) what happens without the pass.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alamp.assembly import PASSES, Assembly, AssemblyError, assemble, census, pass_named, says_no_early_end
from alamp.assembly.census import fired_from_notes, main
from alamp.assembly.text import action_symbols_in_text, constants_in_text, formulas_in_text
from alamp.description import Description, random_ranges_in_text, reward_in_text
from alamp.mathtext import plain_math
from alamp.schema import Assignment, Constraint, MDPModel, Parameter, SARAction
from alamp.spec import SpecError, compile_spec
from alamp.tasks import load_task, task_ids

TEST_TASKS = {"cartpole", "mountain_car", "wireless", "drone", "inventory"}
COVERED: dict[str, str] = {}


def covers(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Marks a test as the test of pass ``name``."""
    pass_named(name)  # fails at import for a misspelt name

    def mark(test: Callable[[], None]) -> Callable[[], None]:
        COVERED[name] = test.__name__
        return test

    return mark


def gold(task_id: str) -> dict[str, Any]:
    """The gold outputs of a train or dev task as ``assemble`` arguments (the Env agent's part: the gold updates)."""
    task = load_task(task_id)
    assert task.split in ("train", "dev"), f"{task_id} is a {task.split} task: never fit a rule on it"
    g = task.gold
    return {
        "parameters": list(g.parameters),
        "variables": list(g.variables),
        "constraints": list(g.constraints),
        "mdp": g.mdp,
        "sar": g.sar,
        "updates": list(g.env_spec.updates),
        "name": task_id,
        "objectives": list(g.objectives),
    }


def without(name: str) -> list:
    """Every pass but ``name``."""
    return [p for p in PASSES if p.name != name]


def fired_alone(assembly: Assembly, name: str) -> None:
    """Only pass ``name`` fired, and its notes are attributed to it."""
    assert set(assembly.fired) == {name}, assembly.fired
    step = pass_named(name)
    if step.note_pattern is not None:
        assert fired_from_notes(assembly.notes) == {name: assembly.fired[name]}, assembly.notes


def env(assembly: Assembly) -> Any:
    environment = compile_spec(assembly.spec).make_env()
    environment.reset(seed=0)
    return environment


def with_actions(outputs: dict[str, Any], effects: dict[str, str]) -> dict[str, Any]:
    """``outputs`` with the SAR actions' effects replaced (by action name)."""
    actions = [SARAction(name=a.name, effect=effects.get(a.name, a.effect)) for a in outputs["sar"].actions]
    return outputs | {"sar": outputs["sar"].model_copy(update={"actions": actions})}


def updates(*pairs: tuple[str, str]) -> list[Assignment]:
    return [Assignment(target=t, expr=e) for t, e in pairs]


# ----------------------------------------------------------------------------------------------------- registry


def test_passes_have_unique_names_docs_and_origins() -> None:
    names = [p.name for p in PASSES]
    assert len(names) == len(set(names))
    assert names[-3] == "build_spec" and names[0] == "state_variables"
    for step in PASSES:
        doc = " ".join(step.doc.split())
        assert doc.startswith(f"{step.kind.capitalize()}: "), step.name
        if step.kind == "repair":
            assert step.origin and "Origin:" in doc, f"{step.name}: say where the rule came from"
            flagged = re.search(r"Only known origin: (a )?test tasks?\.", doc) is not None
            assert flagged == step.origin_is_test_task, step.name


def test_every_repair_pass_has_a_test() -> None:
    repairs = {p.name for p in PASSES if p.kind == "repair"}
    assert repairs - set(COVERED) == set(), "write a test from a train or dev task for these passes"


@pytest.mark.parametrize("task_id", [t for t in task_ids() if t not in TEST_TASKS])
def test_gold_outputs_need_no_repair(task_id: str) -> None:
    text = Description.read(load_task(task_id).description)  # what the text draws: the starts are gold already
    assert assemble(**gold(task_id), text_random_ranges=text.random_ranges, text_draws=text.step.draws).fired == {}


def test_without_build_spec_nothing_is_assembled() -> None:
    with pytest.raises(ValueError, match="build_spec"):
        assemble(**gold("thermostat"), passes=[p for p in PASSES if p.name != "build_spec"])


# -------------------------------------------------------------------------------------- state and constants


@covers("mdp_states_as_state")
def test_mdp_states_as_state() -> None:
    outputs = gold("thermostat")
    outputs["variables"] = [v for v in outputs["variables"] if v.role != "state"]
    assembly = assemble(**outputs)
    fired_alone(assembly, "mdp_states_as_state")
    assert [s.name for s in assembly.spec.state] == ["indoor_temp", "outdoor_temp"]
    assert [s.init for s in assembly.spec.state] == ["0", "0"]
    # Without it the updates' self-reads make both temperatures undeclared counters: the same state, found later.
    assert assemble(**outputs, passes=without("mdp_states_as_state")).fired == {"self_update_is_counter": 2}


@covers("list_parameters_as_constants")
def test_list_parameters_as_constants() -> None:
    # cliff_walking: the goal cell written as one list parameter; the termination reads its elements.
    outputs = gold("cliff_walking")
    outputs["parameters"] = [p for p in outputs["parameters"] if p.name not in ("goal_row", "goal_col")]
    outputs["parameters"].append(Parameter(name="goal", value=[3, 11]))
    outputs["constraints"] = [Constraint(expression="row == goal_x and col == goal_1", kind="termination")]
    assembly = assemble(**outputs)
    fired_alone(assembly, "list_parameters_as_constants")
    constants = assembly.spec.constants
    assert (constants["goal_0"], constants["goal_1"], constants["goal_x"], constants["goal_y"]) == (3, 11, 3, 11)
    environment = env(assembly)
    environment.unwrapped.set_state([3.0, 10.0])
    assert environment.step(1)[2]  # right, onto the goal cell
    with pytest.raises(AssemblyError):  # a list is no constant
        assemble(**outputs, passes=without("list_parameters_as_constants"))


@covers("parameter_as_state_start")
def test_parameter_as_state_start() -> None:
    # epidemic_control: "At the start 99 % of people are susceptible" extracted as the parameter `susceptible`.
    outputs = gold("epidemic_control")
    outputs["parameters"].append(Parameter(name="susceptible", value=0.99))
    outputs["variables"] = [v.model_copy(update={"initial": ""}) if v.name == "susceptible" else v
                            for v in outputs["variables"]]  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "parameter_as_state_start")
    assert "susceptible" not in assembly.spec.constants
    assert assembly.spec.state[0].init == "0.99"
    with pytest.raises(AssemblyError):  # a name both constant and state
        assemble(**outputs, passes=without("parameter_as_state_start"))


@covers("parameter_symbol_aliases")
def test_parameter_symbol_aliases() -> None:
    # epidemic_control: the Env agent copies the text's symbol for the recovery rate.
    outputs = gold("epidemic_control")
    outputs["parameters"] = [p.model_copy(update={"symbol": "γ"}) if p.name == "recovery_rate" else p
                             for p in outputs["parameters"]]  # fmt: skip
    outputs["updates"] = updates(("new_infections", "contact_rate * susceptible * infected"),
                                 ("susceptible", "susceptible - new_infections"),
                                 ("infected", "infected + new_infections - gamma * infected"))  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "parameter_symbol_aliases")
    assert assembly.spec.constants["gamma"] == assembly.spec.constants["recovery_rate"] == 0.1
    compile_spec(assembly.spec)
    with pytest.raises(SpecError, match="gamma"):
        compile_spec(assemble(**outputs, passes=without("parameter_symbol_aliases")).spec)


@covers("start_range_not_bounds")
def test_start_range_not_bounds() -> None:
    # thermostat: indoor temperature "uniform in [15, 20]" at the start, its range [0, 35] replaced by that.
    outputs = gold("thermostat")
    outputs["variables"] = [v.model_copy(update={"low": 15, "high": 20}) if v.name == "indoor_temp" else v
                            for v in outputs["variables"]]  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "start_range_not_bounds")
    indoor = assembly.spec.state[0]
    assert (indoor.low, indoor.high, indoor.clip) == (-math.inf, math.inf, False)
    assert assembly.spec.state[1].clip  # the outdoor temperature's real bounds are kept
    kept = assemble(**outputs, passes=without("start_range_not_bounds")).spec.state[0]
    assert (kept.low, kept.high, kept.clip) == (15, 20, True)


@covers("start_range_from_text")
def test_start_range_from_text() -> None:
    # positioning_stage (dev): "a position drawn uniformly from [-0.1, 0.1] m" given as the bounds of the position,
    # with no start; the carriage was then held within 0.1 m of the rest point for the whole episode.
    task = load_task("positioning_stage")
    outputs = gold("positioning_stage")
    outputs["variables"] = [v.model_copy(update={"low": -0.1, "high": 0.1, "initial": ""}) if v.name == "position"
                            else v for v in outputs["variables"]]  # fmt: skip
    ranges = Description.read(task.description).random_ranges
    assembly = assemble(**outputs, text_random_ranges=ranges)
    assert set(assembly.fired) == {"start_range_from_text", "start_range_not_bounds"}, assembly.fired
    position = assembly.spec.state[0]
    assert position.init == "uniform(-0.1, 0.1)" and not position.clip
    assert -0.1 <= float(env(assembly).unwrapped.get_state()[0]) <= 0.1
    confined = assemble(**outputs, text_random_ranges=ranges, passes=without("start_range_from_text")).spec.state[0]
    assert (confined.low, confined.high, confined.clip) == (-0.1, 0.1, True)
    # A variable whose start the text gives as a number elsewhere keeps it: only an empty or in-range point start.
    outputs["variables"] = [v.model_copy(update={"initial": "0.5"}) if v.name == "position" else v
                            for v in outputs["variables"]]  # fmt: skip
    assert "start_range_from_text" not in assemble(**outputs, text_random_ranges=ranges).fired


@covers("action_values_set_the_read_symbol")
def test_action_values_set_the_read_symbol() -> None:
    # pendulum_swingup (dev): the text's own step lines read u ("with u the torque chosen this step"); the SAR agent
    # made the actions set torque_minus = -2, torque_plus = 0 and torque_plus = 2, which nothing reads.
    text = Description.read(load_task("pendulum_swingup").description)
    outputs = with_actions(gold("pendulum_swingup"), {"torque_minus": "torque_minus = -2", "coast": "torque_plus = 0",
                                                      "torque_plus": "torque_plus = 2"})  # fmt: skip
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": "-(theta**2 + 0.1*theta_dot**2 + 0.001*u**2)"})
    outputs["updates"] = list(text.step.updates)
    assembly = assemble(**outputs, text_constants=text.constants)
    assert assembly.fired.get("action_values_set_the_read_symbol") == 3, assembly.fired
    assert [(a.updates[0].target, a.updates[0].expr) for a in assembly.spec.actions] == [("u", "-2"), ("u", "0"),
                                                                                       ("u", "2")]  # fmt: skip
    environment = env(assembly)
    speeds = []
    for action in (0, 2):
        environment.unwrapped.set_state(np.array([0.0, 0.0]))
        observation, *_ = environment.step(action)
        speeds.append(float(observation[1]))
    assert speeds == pytest.approx([-0.3, 0.3])  # dt * 3/(m*l^2) * u at the top, where sin(theta) = 0
    with pytest.raises(SpecError):  # without the pass, u is read and defined nowhere
        compile_spec(assemble(**outputs, text_constants=text.constants,
                              passes=without("action_values_set_the_read_symbol")).spec)  # fmt: skip
    # Another run (pendulum_swingup, dev): every action sets u_next, the step reads u: one quantity, named u.
    next_values = {"torque_minus": "u_next = -2", "coast": "u_next = 0", "torque_plus": "u_next = 2"}
    following = with_actions(outputs, next_values)
    renamed = assemble(**following, text_constants=text.constants)
    assert renamed.fired.get("action_values_set_the_read_symbol") == 1
    assert [a.updates[0].target for a in renamed.spec.actions] == ["u", "u", "u"]
    # Effects that are no plain numbers (a notch up, a notch down) are the agent's own reading: left alone.
    relative = with_actions(outputs, {"torque_minus": "torque_minus = torque_minus - 1"})
    assert "action_values_set_the_read_symbol" not in assemble(**relative, text_constants=text.constants).fired


@covers("reward_as_text_states")
def test_reward_as_text_states() -> None:
    # pendulum_swingup (dev): "c = theta^2 + 0.1*theta_dot^2 + 0.001*u^2 ... and the reward is -c", evaluated on the
    # state before the update; the SAR agent wrote 0.1*theta_dot**2 + 0.001*torque_plus_next**2.
    text = Description.read(load_task("pendulum_swingup").description)
    assert text.reward == "-c"
    effects = {"torque_minus": "u = -2", "coast": "u = 0", "torque_plus": "u = 2"}
    outputs = with_actions(gold("pendulum_swingup"), effects)
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": "0.1 * theta_dot**2 + 0.001 * torque_plus_next**2"})
    outputs["updates"] = list(text.step.updates)
    kwargs = {"text_constants": text.constants, "text_formulas": text.formulas}
    assembly = assemble(**outputs, **kwargs, text_reward=text.reward)
    assert assembly.fired.get("reward_as_text_states") == 1 and assembly.spec.reward == "-c"
    environment = env(assembly)
    environment.unwrapped.set_state(np.array([1.0, 0.0]))
    _, reward, *_ = environment.step(2)
    assert reward == pytest.approx(-(1.0 + 0.001 * 4))  # the cost of the state before the step and the torque
    assert "reward_as_text_states" not in assemble(**outputs, **kwargs).fired
    # A text reward reading a name nothing defines leaves the SAR agent's, and says so.
    kept = assemble(**outputs, **kwargs, text_reward="-abs(T_in - 21)")
    assert "reward_as_text_states" not in kept.fired and kept.spec.reward.startswith("0.1 * theta_dot")
    assert any("'T_in', which nothing defines" in note for note in kept.notes)


@pytest.mark.parametrize(
    ("text", "reward"),
    [
        ("Cost c = x^2 and the reward is -c. Nothing else.", "-c"),
        ("Per step the reward is -|T_in - 21| - 0.5·P (discomfort plus energy), using the new T_in.",
         "-abs(T_in - 21) - 0.5*P"),
        ("reward = min(release, 8) - 3*spill.", "min(release, 8) - 3*spill"),
        ("Period reward = 6·(admitted) − 1·(customers in the system at the end).", None),  # cut short: no reward
        ("The reward is that penalty with a minus sign.", None),
        ("reward = x. Later: reward = y.", None),  # two different rewards: the text does not say which
    ],
)  # fmt: skip
def test_reward_in_text(text: str, reward: str | None) -> None:
    assert reward_in_text(plain_math(text)) == reward


@covers("if_then_else_as_conditional")
def test_if_then_else_as_conditional() -> None:
    # frozen_lake (dev): the SAR agent wrote the reward as "if row == goal_row and col == goal_col then goal_reward else
    # 0"; the grammar now admits the form (refused, it was glued into names) and this pass makes it Python's.
    outputs = gold("frozen_lake")
    reward = outputs["sar"].reward
    assert "if" not in reward  # the gold reward is a plain expression; write it the model's way
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": f"if 1 > 0 then {reward} else 0"})
    assembly = assemble(**outputs)
    fired_alone(assembly, "if_then_else_as_conditional")
    assert assembly.spec.reward == f"({reward}) if (1 > 0) else (0)"
    env(assembly)  # compiles
    with pytest.raises((AssemblyError, SpecError)):
        compile_spec(assemble(**outputs, passes=without("if_then_else_as_conditional")).spec)


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("if a then 1 else if b then 2 else 3", "(1) if (a) else ((2) if (b) else (3))"),
        ("if a then (x if c else y) else 0", "((x if c else y)) if (a) else (0)"),
        ("x if c else y", "x if c else y"),
        ("if a then 1", "if a then 1"),  # no else: left to the checker
    ],
)
def test_as_python_conditional(text: str, python: str) -> None:
    from alamp.assembly.passes.if_then_else_as_conditional import as_python_conditional

    assert as_python_conditional(text) == python


@covers("action_effects_as_text_states")
def test_action_effects_as_text_states() -> None:
    # positioning_stage (dev): "It commands, in order: push left (u = -5 N), no push (u = 0), push right (u = +5 N)";
    # the SAR agent set a, the text's acceleration, in every action, so the text's step had no u to read.
    text = Description.read(load_task("positioning_stage").description)
    assert text.action_effects == ("u = -5", "u = 0", "u = 5")
    outputs = gold("positioning_stage")
    names = [a.name for a in outputs["sar"].actions]
    wrong = {names[0]: "a = -spring_constant * x", names[1]: "a = 0", names[2]: "a = spring_constant * x"}
    outputs = with_actions(outputs, wrong)
    outputs["updates"] = list(text.step.updates)
    kwargs = {"text_constants": text.constants, "text_formulas": text.formulas}
    assembly = assemble(**outputs, **kwargs, text_action_effects=text.action_effects)
    assert assembly.fired.get("action_effects_as_text_states") == 3, assembly.fired
    assert [[(u.target, u.expr) for u in a.updates] for a in assembly.spec.actions] == [
        [("u", "-5")], [("u", "0")], [("u", "5")]
    ]  # fmt: skip
    assert "action_effects_as_text_states" not in assemble(**outputs, **kwargs).fired
    # A list of another length than the actions is no reading of them.
    assert "action_effects_as_text_states" not in assemble(**outputs, **kwargs, text_action_effects=("u = 1",)).fired


@pytest.mark.parametrize(
    ("items", "effects"),
    [
        (["push left (u = -5 N)", "no push (u = 0)", "push right (u = +5 N)"], ("u = -5", "u = 0", "u = 5")),
        (["D = 0 (batch)", "D = 0.15", "D = 0.30"], ("D = 0", "D = 0.15", "D = 0.30")),
        (["left", "right"], ()),
        (["u = 1", "v = 2"], ()),  # not one quantity
    ],
)
def test_action_effects_in_text(items: list[str], effects: tuple[str, ...]) -> None:
    from alamp.description import action_effects_in_text
    from alamp.interface import StatedInterface

    assert action_effects_in_text(StatedInterface(n_actions=len(items), actions=items)) == effects


@covers("no_termination_as_text_says")
def test_no_termination_as_text_says() -> None:
    # pendulum_swingup (dev): "Nothing terminates the run early", yet the Constraint agent filed the start range of
    # the speed as terminations, and every run ended on its first steps.
    text = Description.read(load_task("pendulum_swingup").description)
    assert text.no_early_end
    outputs = gold("pendulum_swingup")
    outputs["constraints"] = [*outputs["constraints"],
                              Constraint(expression="theta_dot >= -1.0", kind="termination", description="speed"),
                              Constraint(expression="theta_dot <= 1.0", kind="termination", description="speed")]
    kept = assemble(**outputs, passes=without("no_termination_as_text_says")).spec
    assert kept.terminated == ["not (theta_dot >= -1.0)", "not (theta_dot <= 1.0)"]
    assembly = assemble(**outputs, text_no_early_end=text.no_early_end)
    fired_alone(assembly, "no_termination_as_text_says")
    assert assembly.spec.terminated == []
    environment = env(assembly)
    for _ in range(50):  # the speed leaves [-1, 1] within these steps under full torque; the run goes on
        _, _, terminated, _, _ = environment.step(2)
        assert not terminated
    # Without the text's word nothing is dropped.
    assert "no_termination_as_text_says" not in assemble(**outputs).fired


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Each run lasts 100 steps. Nothing stops a run early.", True),
        ("The day is 12 slots and nothing ends it sooner.", True),
        ("150 steps with no early termination.", True),
        ("An episode never ends early; it always lasts one season.", True),
        ("Nothing ends the episode early except a crash into the ground.", False),
        ("The episode ends early when the tank overflows.", False),
        ("Nothing happens to the queue when the server is idle.", False),
    ],
)
def test_says_no_early_end(text: str, says: bool) -> None:
    assert says_no_early_end(text) is says


@covers("start_from_text_draw")
def test_start_from_text_draw() -> None:
    # lunar_descent (dev): "initial: h ~ U(150, 250), v ~ U(-10, -5)" became the starts 150 and -10.
    task = load_task("lunar_descent")
    draws = Description.read(task.description).step.draws
    outputs = gold("lunar_descent")
    points = {"altitude": ("150", "h"), "velocity": ("-10", "v")}  # the text's symbols for the two states
    outputs["variables"] = [v.model_copy(update={"initial": points[v.name][0], "symbol": points[v.name][1]})
                            if v.name in points else v for v in outputs["variables"]]  # fmt: skip
    assembly = assemble(**outputs, text_draws=draws)
    fired_alone(assembly, "start_from_text_draw")
    starts = {s.name: s.init for s in assembly.spec.state}
    assert starts["altitude"] == "uniform(150, 250)" and starts["velocity"] == "uniform(-10, -5)"
    kept = {s.name: s.init for s in assemble(**outputs, passes=without("start_from_text_draw")).spec.state}
    assert kept["altitude"] == "150"
    # cruise_control (train) writes the start with the subscript 0 (v_0 ~ U(18, 32)) for the speed whose symbol is v.
    cruise = gold("cruise_control")
    cruise["variables"] = [v.model_copy(update={"initial": ""}) if v.name == "speed" else v
                           for v in cruise["variables"]]  # fmt: skip
    text = Description.read(load_task("cruise_control").description)
    speed = next(s for s in assemble(**cruise, text_draws=text.step.draws).spec.state if s.name == "speed")
    assert speed.init == "uniform(18, 32)"


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("At inoculation X is uniform between 0.05 and 0.2 g/L and S = S_in.", [(0.05, 0.2)]),
        ("the level is uniformly distributed between 0.2 m and 0.8 m.", [(0.2, 0.8)]),
        ("Start: v_0 ~ U(18, 32) m/s and gamma_0 ~ U(-0.03, 0.03).", [(18.0, 32.0), (-0.03, 0.03)]),
        # pendulum_swingup (dev): a range of pi's multiples is read too (theta started at 0 without it).
        ("theta uniform in [-pi, pi) and theta_dot uniform in [-1, 1] rad/s.", [(-math.pi, math.pi), (-1.0, 1.0)]),
        ("an angle uniform between 0 and 2*pi, a phase uniform in [x, y]", [(0.0, 2 * math.pi)]),
        ("a uniform rod, mass m = 1 kg. It starts at [0, 1].", []),
    ],
)
def test_random_ranges_in_text(text: str, ranges: list[tuple[float, float]]) -> None:
    # Phrasings of chemostat, tank_level, cruise_control and pendulum_swingup (train/dev); a "uniform rod" is no draw.
    assert random_ranges_in_text(text) == ranges


@covers("bounded_exogenous_is_uniform")
def test_bounded_exogenous_is_uniform() -> None:
    # reservoir (train): the inflow "uniformly distributed between 0 and 16" given as bounds with no distribution.
    outputs = gold("reservoir")
    inflow = next(v for v in outputs["variables"] if v.role == "exogenous")
    outputs["variables"] = [v.model_copy(update={"initial": "", "low": 0, "high": 16}) if v is inflow else v
                            for v in outputs["variables"]]  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "bounded_exogenous_is_uniform")
    assert [(d.name, d.expr) for d in assembly.spec.draws] == [(inflow.name, "uniform(0, 16)")]
    assert next(v for v in outputs["variables"] if v.name == inflow.name).initial == "", "the agent's record is kept"
    unrepaired = assemble(**outputs, passes=without("bounded_exogenous_is_uniform")).spec
    assert not unrepaired.draws
    with pytest.raises(SpecError, match=inflow.name):
        compile_spec(unrepaired)


# -------------------------------------------------------------------------------------------------- actions


@covers("action_prose_ignored")
def test_action_prose_ignored() -> None:
    outputs = with_actions(gold("thermostat"), {"heater_low": "power = 1; the heater runs at low power"})
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_prose_ignored")
    assert [(u.target, u.expr) for u in assembly.spec.actions[1].updates] == [("power", "1")]
    assert assembly.notes == ["action 'heater_low': ignored non-assignment text ['the heater runs at low power']"]


@covers("action_identity_updates_dropped")
def test_action_identity_updates_dropped() -> None:
    outputs = with_actions(gold("epidemic_control"), {"no_measures": "contact_rate = beta_none; measure_cost = 0; "
                                                                     "infected = infected"})  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_identity_updates_dropped")
    assert [u.target for u in assembly.spec.actions[0].updates] == ["contact_rate", "measure_cost"]
    # Kept, it is harmless on a state variable (an action may set a state the others leave alone): same env.
    kept = assemble(**outputs, passes=without("action_identity_updates_dropped"))
    assert kept.fired == {} and len(kept.spec.actions[0].updates) == 3
    first, second = env(assembly), env(kept)
    assert all((first.step(a)[0] == second.step(a)[0]).all() for a in (0, 0, 2, 1))


@covers("action_next_value_sets_state")
def test_action_next_value_sets_state() -> None:
    # frozen_lake: each move written as the next cell; the shared updates keep the agent on the grid.
    effects = {"left": "col_next = col - 1", "down": "row_next = row + 1", "right": "col_next = col + 1",
               "up": "row_next = row - 1"}  # fmt: skip
    outputs = with_actions(gold("frozen_lake"), effects)
    outputs["updates"] = updates(("row", "clip(row, 0, grid_size - 1)"), ("col", "clip(col, 0, grid_size - 1)"))
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_next_value_sets_state")
    assert assembly.fired == {"action_next_value_sets_state": 4}
    environment = env(assembly)
    assert [list(environment.step(a)[0]) for a in (2, 1, 3)] == [[0, 1], [1, 1], [0, 1]]
    # Without it, col_next and row_next are action variables only some actions set and nothing reads: dropped, so
    # the agent never moves.
    stuck = assemble(**outputs, passes=without("action_next_value_sets_state"))
    assert stuck.fired == {"unread_partial_action_variables_dropped": 1}
    assert all(a.updates == [] for a in stuck.spec.actions)


# ------------------------------------------------------------------------------------- the Env agent's updates


@covers("conditional_statement_as_updates")
def test_conditional_statement_as_updates() -> None:
    # frozen_lake_slippery (dev, seed 0): the step by cases, written once under each state's target (the 4x4 pond of
    # frozen_lake, dev, whose gold effects set dr/dc: here the cases read the actions' indicators).
    statement = (
        "if left == 1: col = max(col - 1, 0) else if down == 1: row = min(row + 1, grid_size - 1) "
        "else if right == 1: col = min(col + 1, grid_size - 1) else if up == 1: row = max(row - 1, 0)"
    )
    outputs = with_actions(gold("frozen_lake"), {"left": "", "down": "", "right": "", "up": ""})
    outputs["updates"] = updates(("row", statement), ("col", statement))
    assembly = assemble(**outputs)
    assert assembly.fired.get("conditional_statement_as_updates") == 2  # read once, the repeat dropped
    assert [u.target for u in assembly.spec.updates] == ["col", "row"]
    assert any("already read" in note for note in assembly.notes)
    environment = env(assembly)
    assert tuple(environment.step(1)[0]) == (1.0, 0.0)  # down
    assert tuple(environment.step(2)[0]) == (1.0, 1.0)  # right
    assert tuple(environment.step(0)[0]) == (1.0, 0.0)  # left
    assert tuple(environment.step(3)[0]) == (0.0, 0.0)  # up
    with pytest.raises(SpecError, match="valid Python expression"):
        compile_spec(assemble(**outputs, passes=without("conditional_statement_as_updates")).spec)


def test_conditional_statement_with_a_bare_else_and_a_condition_on_a_later_target() -> None:
    outputs = gold("frozen_lake")
    bare = "if dr == 1: row = min(row + 1, grid_size - 1) elif dr == -1: row = max(row - 1, 0) else row"
    outputs["updates"] = [*updates(("row", bare)), outputs["updates"][1]]
    assembly = assemble(**outputs)
    fired_alone(assembly, "conditional_statement_as_updates")
    assert assembly.spec.updates[0].expr == (
        "min(row + 1, grid_size - 1) if dr == 1 else max(row - 1, 0) if dr == -1 else row"
    )
    later = "if col > 0: row = 1; col = 0 elif row > 0: col = 1"  # col's update would read the new row
    outputs["updates"] = updates(("row", later))
    assert "conditional_statement_as_updates" not in assemble(**outputs).fired


@covers("action_copies_of_the_step_dropped")
def test_action_copies_of_the_step_dropped() -> None:
    # epidemic_control (dev, seed 0, nearest demos): the SAR agent copied the step into every action's effect.
    outputs = gold("epidemic_control")
    step = "; ".join(f"{u.target} = {u.expr}" for u in outputs["updates"])
    outputs = with_actions(outputs, {a.name: f"{a.effect}; {step}" for a in outputs["sar"].actions})
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_copies_of_the_step_dropped")
    assert assembly.fired["action_copies_of_the_step_dropped"] == 3
    assert all({u.target for u in a.updates} == {"contact_rate", "measure_cost"} for a in assembly.spec.actions)
    reference = env(assemble(**gold("epidemic_control")))
    repaired, unrepaired = env(assembly), env(assemble(**outputs, passes=without("action_copies_of_the_step_dropped")))
    for environment in (reference, repaired, unrepaired):
        environment.unwrapped.set_state([0.9, 0.05])
    expected = reference.step(0)[0]
    assert np.allclose(repaired.step(0)[0], expected)
    assert not np.allclose(unrepaired.step(0)[0], expected), "the copies advance the epidemic twice"


def test_a_step_update_only_some_actions_carry_is_their_effect() -> None:
    # elevator (dev): move_up's floor change was also written into the shared step, where it ran whatever the action.
    outputs = gold("elevator")
    up = "floor = clip(floor + 1, 0, top_floor)"
    outputs = with_actions(outputs, {"move_up": f"move = 0; opened = 0; {up}"})
    outputs["updates"] = [*updates(("floor", "clip(floor + 1, 0, top_floor)")), *outputs["updates"]]
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_copies_of_the_step_dropped")
    assert assembly.notes[0].startswith("update 'floor = clip(floor + 1, 0, top_floor)' is the effect of ['move_up']")
    assert ("floor", "clip(floor + 1, 0, top_floor)") not in [(u.target, u.expr) for u in assembly.spec.updates]
    environment = env(assembly)
    start = environment.unwrapped.get_state().copy()
    environment.unwrapped.set_state(start)
    floor_after_open = environment.step(2)[0][0]  # open the doors: the car stays
    environment.unwrapped.set_state(start)
    floor_after_up = environment.step(0)[0][0]
    assert floor_after_up == floor_after_open + 1


@covers("identity_updates_dropped")
def test_identity_updates_dropped() -> None:
    outputs = gold("fishery_quota")
    outputs["updates"] = [*updates(("growth_rate", "growth_rate"), ("biomass", "biomass = biomass")),
                          *outputs["updates"]]  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "identity_updates_dropped")
    assert assembly.spec.updates == gold("fishery_quota")["updates"]
    assert assembly.fired == {"identity_updates_dropped": 2}
    # Without it, growth_rate is a parameter the updates assign: a needless state variable, the same dynamics.
    kept = assemble(**outputs, passes=without("identity_updates_dropped"))
    assert kept.fired == {"statement_as_expression": 1, "assigned_parameter_is_state": 1}
    assert [s.name for s in kept.spec.state] == ["biomass", "growth_rate"]


@covers("statement_as_expression")
def test_statement_as_expression() -> None:
    outputs = gold("fishery_quota")
    biomass = outputs["updates"][2]
    outputs["updates"][2] = Assignment(target="biomass", expr=f"biomass_next = {biomass.expr}")
    assembly = assemble(**outputs)
    fired_alone(assembly, "statement_as_expression")
    assert assembly.spec.updates[2] == biomass
    with pytest.raises(SpecError):
        compile_spec(assemble(**outputs, passes=without("statement_as_expression")).spec)


@covers("next_value_update_sets_state")
def test_next_value_update_sets_state() -> None:
    # fishery_quota: "next biomass = E + ..." written as the update of biomass_next; collapse reads the old biomass.
    outputs = gold("fishery_quota")
    outputs["updates"] = [Assignment(target="biomass_next", expr=outputs["updates"][2].expr) if i == 2 else u
                          for i, u in enumerate(outputs["updates"])]  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "next_value_update_sets_state")
    assert assembly.spec.updates[-1] == Assignment(target="biomass", expr="biomass_next")
    environment = env(assembly)
    environment.unwrapped.set_state([50.0])
    biomass = environment.step(0)[0][0]  # quota 0: grows from 50
    assert 50 < biomass <= 100
    unchanged = env(assemble(**outputs, passes=without("next_value_update_sets_state")))
    unchanged.unwrapped.set_state([50.0])
    assert unchanged.step(0)[0][0] == 50.0  # biomass never changes: the update went to an intermediate


@covers("clip_of_next_value_after_update")
def test_clip_of_next_value_after_update() -> None:
    # thermostat: the update, then "clipped to [0, 35]" written as a clip of the next value.
    outputs = gold("thermostat")
    outputs["mdp"] = outputs["mdp"].model_copy(update={"transitions": []})  # else they define indoor_temp_next
    outputs["updates"] = updates(
        ("indoor_temp", "indoor_temp + leak_rate * (outdoor_temp - indoor_temp) + heat_gain * power + room_noise"),
        ("indoor_temp_next", "clip(indoor_temp_next, 0, 35)"),
        ("outdoor_temp", "clip(outdoor_temp + weather_change, -10, 20)"),
    )
    assembly = assemble(**outputs)
    fired_alone(assembly, "clip_of_next_value_after_update")
    assert assembly.spec.updates[1] == Assignment(target="indoor_temp", expr="clip(indoor_temp, 0, 35)")
    compile_spec(assembly.spec)
    # Without it, indoor_temp_next = clip(indoor_temp_next, ...) reads itself first: a counter starting at 0, which
    # is not what the model meant (and the temperature is never clipped).
    wrong = assemble(**outputs, passes=without("clip_of_next_value_after_update"))
    assert wrong.fired == {"self_update_is_counter": 1}


# ---------------------------------------------------------------------------------- reward, termination


@covers("reward_from_update")
def test_reward_from_update() -> None:
    outputs = gold("server_autoscaling")
    outputs["updates"] = [*outputs["updates"], Assignment(target="reward", expr=outputs["sar"].reward)]
    assembly = assemble(**outputs)
    fired_alone(assembly, "reward_from_update")
    assert assembly.spec.reward == "reward"


@covers("reward_sign_from_objective")
def test_reward_sign_from_objective() -> None:
    # positioning_stage (dev): the objective "min abs(x - x_ref) ..." copied as the reward with no sign; the policy was
    # trained to drive the carriage away from the target.
    outputs = gold("positioning_stage")
    cost = next(o for o in outputs["objectives"] if o.sense == "min").expression
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": cost.replace(" ", "")})  # same expression, respaced
    assembly = assemble(**outputs)
    fired_alone(assembly, "reward_sign_from_objective")
    assert assembly.spec.reward == f"-({cost.replace(' ', '')})"
    assert assemble(**outputs, passes=without("reward_sign_from_objective")).spec.reward == cost.replace(" ", "")
    # A maximised objective, or a reward that differs from the cost, is left alone.
    maximised = [o.model_copy(update={"sense": "max"}) for o in outputs["objectives"]]
    assert "reward_sign_from_objective" not in assemble(**outputs | {"objectives": maximised}).fired
    other = outputs["sar"].model_copy(update={"reward": f"-({cost})"})
    assert "reward_sign_from_objective" not in assemble(**outputs | {"sar": other}).fired


@covers("termination_from_mdp")
def test_termination_from_mdp() -> None:
    # fishery_quota: the collapse filed as a hard constraint; the Modeling agent's termination says it ends.
    outputs = gold("fishery_quota")
    outputs["constraints"] = [c.model_copy(update={"kind": "hard"}) for c in outputs["constraints"]]
    assembly = assemble(**outputs)
    fired_alone(assembly, "termination_from_mdp")
    assert assembly.spec.terminated == ["biomass < collapse_level"]
    assert assemble(**outputs, passes=without("termination_from_mdp")).spec.terminated == []


@covers("done_update_terminates")
def test_done_update_terminates() -> None:
    outputs = gold("battery_arbitrage")
    outputs["constraints"] = []
    outputs["mdp"] = outputs["mdp"].model_copy(update={"termination": []})
    outputs["updates"] = [*outputs["updates"], Assignment(target="done", expr="hour >= hours_per_day")]
    assembly = assemble(**outputs)
    assert assembly.fired == {"done_update_terminates": 1} and assembly.notes == []  # it writes no note
    assert assembly.spec.terminated == ["done"]
    environment = env(assembly)
    environment.unwrapped.set_state([0.0, 23.0])
    assert environment.step(1)[2]
    assert assemble(**outputs, passes=without("done_update_terminates")).spec.terminated == []


# ----------------------------------------------------------------------------------- names read as values


@covers("action_labels_as_indices")
def test_action_labels_as_indices() -> None:
    # frozen_lake (dev, seed 0): the SAR agent wrote each action's effect as a label, the Env agent compared labels.
    names = ["left", "down", "right", "up"]
    outputs = with_actions(gold("frozen_lake"), {name: f"move = {name}" for name in names})
    outputs["updates"] = [
        *updates(
            ("dr", "where(move == down, 1, where(up == move, -1, 0))"),
            ("dc", "where(move == right, 1, where(move == left, -1, 0))"),
        ),
        *outputs["updates"],
    ]
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_labels_as_indices")
    assert [[(u.target, u.expr) for u in a.updates] for a in assembly.spec.actions] == [
        [("move", str(i))] for i in range(4)
    ]
    assert assembly.spec.updates[0].expr == "where(move == 1, 1, where(3 == move, -1, 0))"
    environment = env(assembly)
    assert tuple(environment.step(1)[0]) == (1.0, 0.0)  # down
    assert tuple(environment.step(2)[0]) == (1.0, 1.0)  # right
    assert tuple(environment.step(3)[0]) == (0.0, 1.0)  # up
    assert tuple(environment.step(0)[0]) == (0.0, 0.0)  # left
    unrepaired = assemble(**outputs, passes=without("action_labels_as_indices"))
    moves = {tuple(u.expr for u in a.updates if u.target == "move") for a in unrepaired.spec.actions}
    assert moves == {("left",), ("down",), ("right",), ("up",)}  # each reads its own indicator, which is 1: all alike


def test_action_labels_that_name_constants_are_their_values() -> None:
    # pendulum_swingup (dev): "torque_minus (-2 N*m), coast (0) and torque_plus (+2 N*m)"; the Parameter agent kept the
    # three torques as constants of the actions' names, and the SAR agent wrote u_next = torque_minus ...
    outputs = with_actions(gold("pendulum_swingup"), {name: f"torque = {name}" for name in
                                                      ("torque_minus", "coast", "torque_plus")})  # fmt: skip
    outputs["parameters"] = [*outputs["parameters"], Parameter(name="torque_minus", value=-2.0),
                             Parameter(name="coast", value=0.0), Parameter(name="torque_plus", value=2.0)]  # fmt: skip
    assembly = assemble(**outputs)
    assert assembly.fired.get("action_labels_as_indices") == 1, assembly.fired
    assert [[(u.target, u.expr) for u in a.updates] for a in assembly.spec.actions] == [
        [("torque", "-2")], [("torque", "0")], [("torque", "2")]
    ]  # fmt: skip
    environment = env(assembly)
    environment.unwrapped.set_state(np.array([0.0, 0.0]))
    assert float(environment.step(2)[0][1]) == pytest.approx(0.3)  # dt * 3/(m*l^2) * 2 at the top


@covers("action_names_as_indicators")
def test_action_names_as_indicators() -> None:
    # battery_arbitrage: buying and selling written with the actions' names as 0/1 values.
    outputs = with_actions(gold("battery_arbitrage"), {"discharge": "", "idle": "", "charge_battery": ""})
    outputs["updates"] = [
        outputs["updates"][0],
        *updates(("bought", "charge_battery * min(1, capacity - charge)"), ("sold", "discharge * min(1, charge)")),
        *outputs["updates"][3:],
    ]
    assembly = assemble(**outputs)
    fired_alone(assembly, "action_names_as_indicators")
    flags = [{u.target: u.expr for u in a.updates} for a in assembly.spec.actions]
    assert flags == [{"charge_battery": "0", "discharge": "1"}, {"charge_battery": "0", "discharge": "0"},
                     {"charge_battery": "1", "discharge": "0"}]  # fmt: skip
    environment = env(assembly)
    assert [environment.step(2)[0][0] for _ in range(2)] == [1.0, 2.0]  # charge twice
    assert environment.step(0)[0][0] == 1.0  # discharge
    with pytest.raises(SpecError, match="charge_battery"):
        compile_spec(assemble(**outputs, passes=without("action_names_as_indicators")).spec)


@covers("next_value_after_its_update")
def test_next_value_after_its_update() -> None:
    # thermostat: the outdoor temperature updated first, the indoor one then reads "the new" outdoor temperature.
    outputs = gold("thermostat")
    outputs["mdp"] = outputs["mdp"].model_copy(update={"transitions": []})  # else they define outdoor_temp_next
    outputs["updates"] = updates(
        ("outdoor_temp", "clip(outdoor_temp + weather_change, -10, 20)"),
        ("indoor_temp", "clip(indoor_temp + leak_rate * (outdoor_temp_next - indoor_temp) + heat_gain * power "
                        "+ room_noise, 0, 35)"),
    )  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "next_value_after_its_update")
    assert "outdoor_temp_next" not in assembly.spec.updates[1].expr
    assert "(outdoor_temp - indoor_temp)" in assembly.spec.updates[1].expr
    compile_spec(assembly.spec)
    with pytest.raises(SpecError, match="outdoor_temp_next"):
        compile_spec(assemble(**outputs, passes=without("next_value_after_its_update")).spec)


@covers("next_value_in_reward_termination_observation")
def test_next_value_in_reward_termination_observation() -> None:
    # thermostat: "the reward is −|T_in − 21| − 0.5·P ..., using the new indoor temperature".
    outputs = gold("thermostat")
    reward = "-abs(indoor_temp_next - setpoint) - energy_price * power"
    outputs["mdp"] = outputs["mdp"].model_copy(update={"transitions": []})  # else they define indoor_temp_next
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": reward})
    assembly = assemble(**outputs)
    fired_alone(assembly, "next_value_in_reward_termination_observation")
    assert assembly.spec.reward == gold("thermostat")["sar"].reward
    with pytest.raises(SpecError, match="indoor_temp_next"):
        compile_spec(assemble(**outputs, passes=without("next_value_in_reward_termination_observation")).spec)


@covers("text_action_symbol_is_action")
def test_text_action_symbol_is_action() -> None:
    # thermostat, its setting written by its index as the text (reworded here) says: 0, 1 or 2 kW.
    text = "The heater power is P = a kW, where a is 0, 1 or 2 for the chosen action."
    outputs = with_actions(gold("thermostat"), {"heater_off": "", "heater_low": "", "heater_high": ""})
    outputs["parameters"].append(Parameter(name="a", value=0))
    outputs["updates"] = [Assignment(target="indoor_temp", expr=outputs["updates"][0].expr.replace("power", "a")),
                          outputs["updates"][1]]  # fmt: skip
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": "-abs(indoor_temp - setpoint)"})
    assembly = assemble(**outputs, text_action_symbols=action_symbols_in_text(text))
    fired_alone(assembly, "text_action_symbol_is_action")
    assert "heat_gain * action" in assembly.spec.updates[0].expr
    environment = env(assembly)
    environment.unwrapped.set_state([20.0, 20.0])
    heated = environment.step(2)[0][0]
    environment.unwrapped.set_state([20.0, 20.0])
    assert heated - environment.step(0)[0][0] == pytest.approx(3.0, abs=1.0)  # 1.5 * 2 kW, up to the noise
    blind = assemble(**outputs, passes=without("text_action_symbol_is_action"))
    assert "heat_gain * a" in blind.spec.updates[0].expr  # a stays the constant 0: the heater never heats


@covers("constants_from_text")
def test_constants_from_text() -> None:
    # thermostat with the leak rate given a symbol in the text (reworded here); the Parameter agent missed it.
    text = "T_in ← T_in + k·(T_out − T_in) + 1.5·P + η with the leak rate k = 0.1 per step."
    outputs = gold("thermostat")
    outputs["parameters"] = [p for p in outputs["parameters"] if p.name != "leak_rate"]
    outputs["updates"] = [Assignment(target="indoor_temp", expr=outputs["updates"][0].expr.replace("leak_rate", "k")),
                          outputs["updates"][1]]  # fmt: skip
    assembly = assemble(**outputs, text_constants=constants_in_text(text))
    fired_alone(assembly, "constants_from_text")
    assert assembly.spec.constants["k"] == 0.1
    compile_spec(assembly.spec)
    with pytest.raises(SpecError, match="'k'"):
        compile_spec(assemble(**outputs, passes=without("constants_from_text")).spec)


@covers("bound_names_as_constants")
def test_bound_names_as_constants() -> None:
    # thermostat: "clipped to [0, 35]" written with the bounds' names, which nothing defines.
    outputs = gold("thermostat")
    expr = outputs["updates"][0].expr.replace(", 0, 35)", ", indoor_temp_min, max_indoor_temp)")
    outputs["updates"] = [Assignment(target="indoor_temp", expr=expr), outputs["updates"][1]]
    assembly = assemble(**outputs)
    fired_alone(assembly, "bound_names_as_constants")
    assert (assembly.spec.constants["indoor_temp_min"], assembly.spec.constants["max_indoor_temp"]) == (0, 35)
    with pytest.raises(SpecError, match="indoor_temp_min|max_indoor_temp"):
        compile_spec(assemble(**outputs, passes=without("bound_names_as_constants")).spec)


@covers("formulas_for_undefined_names")
def test_formulas_for_undefined_names_from_the_transitions() -> None:
    # epidemic_control: the Env agent never defines new_infections; the Modeling agent's transitions do.
    outputs = gold("epidemic_control")
    outputs["updates"] = outputs["updates"][1:]
    assembly = assemble(**outputs)
    fired_alone(assembly, "formulas_for_undefined_names")
    assert assembly.spec.updates == gold("epidemic_control")["updates"]
    assert "the MDP's transitions give its formula" in assembly.notes[0]
    # The text's own formula (new_infections = β·S·I) wins, but reads names nothing defines: then none is used.
    text_formulas = formulas_in_text(load_task("epidemic_control").description)
    assert text_formulas == {"new_infections": "beta * S * I"}
    assert assemble(**outputs, text_formulas=text_formulas).fired == {}
    with pytest.raises(SpecError, match="new_infections"):
        compile_spec(assemble(**outputs, passes=without("formulas_for_undefined_names")).spec)


def test_formulas_for_undefined_names_from_the_text() -> None:
    # reservoir: the SAR agent wrote the reward as the name `reward`, which the text defines by a formula.
    outputs = gold("reservoir")
    outputs["sar"] = outputs["sar"].model_copy(update={"reward": "reward"})
    assembly = assemble(**outputs, text_formulas=formulas_in_text(load_task("reservoir").description))
    fired_alone(assembly, "formulas_for_undefined_names")
    assert assembly.spec.updates[-1] == Assignment(target="reward", expr="min(release, 8) - 2 * max(8 - release, 0) "
                                                                          "- 3 * spill")  # fmt: skip
    compile_spec(assembly.spec)


def test_formulas_for_undefined_names_read_the_state_before_the_step() -> None:
    # positioning_stage: the text's lines x <- x + dt*x_dot, x_dot <- x_dot + dt*a with "a = (u - k*x - c*x_dot)/m",
    # the acceleration "taken at the old state"; the formula was put after the position's update (its first reader
    # is the velocity's), and the step agreed with the reference on 3% of pairs.
    outputs = gold("positioning_stage")
    outputs["updates"] = [u for u in outputs["updates"] if u.target != "accel"]
    formulas = {"accel": "(force - stiffness * position - c * velocity) / m"}
    assembly = assemble(**outputs, text_formulas=formulas)
    fired_alone(assembly, "formulas_for_undefined_names")
    assert [u.target for u in assembly.spec.updates[:3]] == ["accel", "position", "velocity"]
    assert assembly.spec.updates == gold("positioning_stage")["updates"]


def test_formulas_for_undefined_names_may_read_the_texts_constants() -> None:
    # lunar_descent: the Env agent never defines burn; the text's formula for it reads v_e, which only the text's
    # "v_e = 2500 m/s" defines (no parameter, no other expression reads it).
    outputs = gold("lunar_descent")
    outputs["updates"] = [u for u in outputs["updates"] if u.target != "burn"]
    outputs["parameters"] = [p for p in outputs["parameters"] if p.name != "exhaust_velocity"]
    formulas = {"burn": "min(dt * thrust / v_e, fuel)"}
    assembly = assemble(**outputs, text_formulas=formulas, text_constants={"v_e": 2500.0})
    fired_alone(assembly, "formulas_for_undefined_names")
    assert [(u.target, u.expr) for u in assembly.spec.updates[4:6]] == [
        ("v_e", "2500.0"), ("burn", "min(dt * thrust / v_e, fuel)")
    ]
    compile_spec(assembly.spec)
    with pytest.raises(SpecError, match="burn"):
        compile_spec(assemble(**outputs, text_formulas=formulas).spec)  # without the text's constant: not usable


@covers("unread_partial_action_variables_dropped")
def test_unread_partial_action_variables_dropped() -> None:
    # epidemic_control: the lockdown also sets a flag nothing reads.
    outputs = with_actions(gold("epidemic_control"), {
        "lockdown": "contact_rate = beta_lockdown; measure_cost = cost_lockdown; lockdown_active = 1"})  # fmt: skip
    assembly = assemble(**outputs)
    fired_alone(assembly, "unread_partial_action_variables_dropped")
    assert [u.target for u in assembly.spec.actions[2].updates] == ["contact_rate", "measure_cost"]
    compile_spec(assembly.spec)
    with pytest.raises(SpecError, match="lockdown_active"):
        compile_spec(assemble(**outputs, passes=without("unread_partial_action_variables_dropped")).spec)


@covers("self_update_is_counter")
def test_self_update_is_counter() -> None:
    # battery_arbitrage: the Variable agent forgot the hour; the Env agent counts it (hour = hour + 1).
    outputs = gold("battery_arbitrage")
    outputs["variables"] = [v for v in outputs["variables"] if v.name != "hour"]
    outputs["sar"] = outputs["sar"].model_copy(update={"observations": ["charge"]})
    assembly = assemble(**outputs)
    fired_alone(assembly, "self_update_is_counter")
    hour = assembly.spec.state[-1]
    assert (hour.name, hour.init, hour.clip) == ("hour", "0", False)
    environment = env(assembly)
    steps = 0
    while not environment.step(1)[2]:
        steps += 1
    assert steps == 23  # the day ends once hour 24 is reached
    with pytest.raises(SpecError, match="hour"):
        compile_spec(assemble(**outputs, passes=without("self_update_is_counter")).spec)


@covers("assigned_parameter_is_state")
def test_assigned_parameter_is_state() -> None:
    # battery_arbitrage: the Variable agent made the hour a parameter ("from hour 0"); the updates advance it.
    outputs = gold("battery_arbitrage")
    outputs["variables"] = [v for v in outputs["variables"] if v.name != "hour"]
    outputs["parameters"].append(Parameter(name="hour", value=0))
    outputs["sar"] = outputs["sar"].model_copy(update={"observations": ["charge"]})
    assembly = assemble(**outputs)
    fired_alone(assembly, "assigned_parameter_is_state")
    assert "hour" not in assembly.spec.constants
    assert (assembly.spec.state[-1].name, assembly.spec.state[-1].init) == ("hour", "0.0")
    with pytest.raises(SpecError, match="constant"):
        compile_spec(assemble(**outputs, passes=without("assigned_parameter_is_state")).spec)


@covers("horizon_from_parameter")
def test_horizon_from_parameter() -> None:
    # thermostat: "Each episode is 100 steps" extracted as max_steps, and the horizon written as that name.
    outputs = gold("thermostat")
    outputs["mdp"] = MDPModel.model_validate(outputs["mdp"].model_dump() | {"horizon": "max_steps"})
    assembly = assemble(**outputs)
    fired_alone(assembly, "horizon_from_parameter")
    assert assembly.spec.max_steps == 100
    assert assemble(**outputs, passes=without("horizon_from_parameter")).spec.max_steps == 500  # the default
    outputs["mdp"] = MDPModel.model_validate(outputs["mdp"].model_dump() | {"horizon": "episode_length"})
    unresolved = assemble(**outputs)
    assert unresolved.fired == {} and "names no positive constant" in unresolved.notes[0]  # a note, no change


# ------------------------------------------------------------------------------- rewrites of the built spec


@covers("float_equality_as_reaching")
def test_float_equality_as_reaching() -> None:
    # fishery_quota: "if the biomass falls to 10" written as an equality; it starts in [30, 70], above 10.
    outputs = gold("fishery_quota")
    outputs["constraints"] = [Constraint(expression="biomass == collapse_level", kind="termination")]
    assembly = assemble(**outputs)
    fired_alone(assembly, "float_equality_as_reaching")
    assert assembly.spec.terminated == ["biomass <= collapse_level"]
    environment = env(assembly)
    environment.unwrapped.set_state([12.0])
    assert environment.step(4)[2]  # a 60 % quota takes 12 to below 10 without hitting it exactly
    kept = assemble(**outputs, passes=without("float_equality_as_reaching"))
    assert kept.spec.terminated == ["biomass == collapse_level"]


def test_float_equality_on_a_grid_cell_is_kept() -> None:
    # cliff_walking: whole-number cells compared to whole numbers: == is meant and hit.
    assert assemble(**gold("cliff_walking")).spec.terminated == ["row == goal_row and col == goal_col"]


@covers("start_true_termination_negated")
def test_start_true_termination_negated() -> None:
    # fishery_quota: the allowed range ("the fishery goes on while biomass >= 10") listed as the termination.
    outputs = gold("fishery_quota")
    outputs["constraints"] = [Constraint(expression="biomass >= collapse_level", kind="termination")]
    assembly = assemble(**outputs)
    fired_alone(assembly, "start_true_termination_negated")
    assert assembly.spec.terminated == ["not (biomass >= collapse_level)"]
    environment = env(assembly)
    assert not environment.step(0)[2]
    every_episode_ends_at_once = env(assemble(**outputs, passes=without("start_true_termination_negated")))
    assert every_episode_ends_at_once.step(0)[2]


# ------------------------------------------------------------------------------------------------- census


def _run_dir(root: Path, name: str, record: dict[str, Any]) -> Path:
    directory = root / name
    directory.mkdir()
    (directory / "run.json").write_text(json.dumps(record))
    return directory


def test_census_counts_fired_mappings_and_attributes_notes_of_older_runs(tmp_path: Path) -> None:
    outputs = with_actions(gold("thermostat"), {"heater_low": "power = 1; the heater runs at low power"})
    notes = assemble(**outputs).notes
    _run_dir(tmp_path, "a_old", {"status": "ok", "env": {"notes": ["SAR output disagrees with the text", *notes]}})
    _run_dir(tmp_path, "b_new", {"env": {"fired": {"action_prose_ignored": 2, "done_update_terminates": 1}}})
    _run_dir(tmp_path, "c_no_env", {"status": "failed", "stages": {"sar": {"status": "failed"}}})
    _run_dir(tmp_path, "d_env_first", {"stages": {"sar": {"notes": notes}}, "env": {"fired": {}}})
    fires, runs_fired, runs = census([tmp_path])
    assert runs == 3  # d_env_first: its env part says nothing fired; the SAR stage's notes are not assembly's
    assert fires == {"action_prose_ignored": 3, "done_update_terminates": 1}
    assert runs_fired == {"action_prose_ignored": 2, "done_update_terminates": 1}


def test_census_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_dir(tmp_path, "run", {"env": {"fired": {"reward_from_update": 1}}})
    assert main([str(run)]) == 0
    table = capsys.readouterr().out
    assert "reward_from_update" in table and "(of 1 runs)" in table
    assert "action_prose_ignored                                  0      0   never" in table
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main([str(tmp_path / "run" / "run.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fires"] == {"reward_from_update": 1}


# --------------------------------------------------------------------------------------------------- docs


def test_the_tables_in_docs_spec_md_are_generated_from_the_code(tmp_path: Path) -> None:
    from alamp.assembly.doc_tables import main as doc_tables

    docs = Path(__file__).resolve().parents[1] / "docs" / "spec.md"
    assert doc_tables([str(docs), "--check"]) == 0, "run: python -m alamp.assembly.doc_tables docs/spec.md"
    stale = tmp_path / "spec.md"
    stale.write_text("<!-- passes:begin -->\nold\n<!-- passes:end -->\n"
                     "<!-- functions:begin -->\n<!-- functions:end -->\n")  # fmt: skip
    assert doc_tables([str(stale), "--check"]) == 1
    assert doc_tables([str(stale)]) == 0 and "`start_true_termination_negated`" in stale.read_text()
    assert doc_tables([str(stale), "--check"]) == 0
    (tmp_path / "bare.md").write_text("no markers")
    assert doc_tables([str(tmp_path / "bare.md")]) == 2
