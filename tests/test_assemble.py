"""Assembling the environment spec from the agents' typed outputs."""

from __future__ import annotations

import math

import pytest
from program_scripts import CARTPOLE, CORRIDOR

from alamp.assemble import (
    AssemblyError,
    action_symbols_in_text,
    assemble,
    constants_in_text,
    expand_parameters,
    formulas_in_text,
    parse_assignments,
)
from alamp.schema import Assignment, Constraint, EnvSpec, MDPModel, Parameter, SARSpec, Variable
from alamp.spec import SpecError, compile_spec
from alamp.tasks import load_task, task_ids


def _outputs(script: dict) -> dict:
    return {
        "parameters": [Parameter(**p) for p in script["ParameterSignature"][0]["parameters"]],
        "variables": [Variable(**v) for v in script["VariableSignature"][0]["variables"]],
        "constraints": [Constraint(**c) for c in script["ConstraintSignature"][0]["constraints"]],
        "mdp": MDPModel(**script["ModelingSignature"][0]["mdp"]),
        "sar": SARSpec(**script["SARSignature"][0]["sar"]),
        "updates": [Assignment(**u) for u in script["EnvSignature"][0]["updates"]],
    }


def test_parse_assignments_forms_the_model_writes() -> None:
    assignments, ignored = parse_assignments("force = -force_mag")
    assert [(a.target, a.expr) for a in assignments] == [("force", "-force_mag")]
    assignments, _ = parse_assignments("y += 1; x = clip(x - 1, 0, 10)")
    assert [(a.target, a.expr) for a in assignments] == [("y", "y + (1)"), ("x", "clip(x - 1, 0, 10)")]
    assignments, ignored = parse_assignments("push the cart to the left")
    assert assignments == [] and ignored == ["push the cart to the left"]
    assignments, _ = parse_assignments("a == b")
    assert assignments == []  # a comparison is not an assignment


def test_cartpole_outputs_assemble_into_the_expected_spec() -> None:
    assembly = assemble(**_outputs(CARTPOLE), name="cartpole")
    spec = assembly.spec
    assert spec.id == "alamp/cartpole-v0"
    assert spec.constants["force_mag"] == 10.0 and spec.max_steps == 500
    assert [s.name for s in spec.state] == ["x", "x_dot", "theta", "theta_dot"]
    assert spec.state[0].clip and not spec.state[1].clip  # only variables with two finite bounds are clipped
    assert spec.actions[0].updates[0].expr == "-force_mag"
    assert spec.terminated == ["abs(x) > x_threshold or abs(theta) > theta_threshold"]
    assert spec.observation == ["x", "x_dot", "theta", "theta_dot"]
    env = compile_spec(spec).make_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4,)


def test_next_value_notation_keeps_its_meaning() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["updates"] = [Assignment(target="position_next", expr="clip(position, 0, 10)")]
    assembly = assemble(**outputs)
    assert [(u.target, u.expr) for u in assembly.spec.updates][-1] == ("position", "position_next")
    assert any("position_next" in note for note in assembly.notes)
    compile_spec(assembly.spec)


def test_parameter_that_is_also_a_state_becomes_its_start_value() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["parameters"].append(Parameter(name="position", value=3))
    outputs["variables"] = [Variable(name="position", role="state", low=0, high=10)]
    assembly = assemble(**outputs)
    assert "position" not in assembly.spec.constants and assembly.spec.state[0].init == "3.0"


def test_reward_and_termination_from_updates_and_exogenous_draws() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["variables"].append(Variable(name="wind", role="exogenous", initial="integers(0, 2)"))
    outputs["updates"] = [
        Assignment(target="position", expr="clip(position + wind, 0, 10)"),
        Assignment(target="reward", expr="-step_cost"),
        Assignment(target="done", expr="position >= 9"),
    ]
    spec = assemble(**outputs).spec
    assert spec.reward == "reward" and "done" in spec.terminated
    assert [(d.name, d.expr) for d in spec.draws] == [("wind", "integers(0, 2)")]
    compile_spec(spec)


def test_no_state_variable_falls_back_to_the_mdp_states() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["variables"] = []
    assembly = assemble(**outputs)
    assert [s.name for s in assembly.spec.state] == ["position"]
    assert assembly.notes


def test_invalid_spec_raises_assembly_error_with_problems() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["parameters"] = [Parameter(name="position_limit", value=1)]
    outputs["variables"] = [Variable(name="position", role="state"), Variable(name="position ", role="state")]
    with pytest.raises(AssemblyError) as info:
        assemble(**outputs)
    assert info.value.problems  # duplicate state names (after normalisation) are named


@pytest.mark.parametrize("task_id", task_ids())
def test_gold_outputs_of_every_task_assemble_into_the_gold_spec(task_id: str) -> None:
    """The gold outputs of a task (the Env agent's part being the gold spec's updates) assemble into the gold spec.

    So the gold outputs are consistent demos: each agent's labelled output is what the program needs from it.
    """
    gold = load_task(task_id).gold
    effects = [[(u.target, u.expr) for u in parse_assignments(a.effect)[0]] for a in gold.sar.actions]
    spec_effects = [[(u.target, u.expr) for u in a.updates] for a in gold.env_spec.actions]
    assert effects == spec_effects, "the gold SAR action effects must be the gold spec's action updates"
    with_distribution = {v.name for v in gold.variables if v.role == "exogenous" and v.initial.strip()}
    missing = [d.name for d in gold.env_spec.draws if d.name not in with_distribution]
    assert not missing, f"gold spec draws {missing} have no exogenous gold variable stating their distribution"
    assembly = assemble(
        parameters=gold.parameters,
        variables=gold.variables,
        constraints=gold.constraints,
        mdp=gold.mdp,
        sar=gold.sar,
        updates=gold.env_spec.updates,
        name=task_id,
    )
    assert assembly.notes == []  # nothing in the gold outputs needed normalising

    def behaviour(spec: EnvSpec) -> dict:
        data = spec.model_dump(exclude={"id"})
        for item in data["state"] + data["actions"]:
            item.pop("description")
        return data

    assert behaviour(assembly.spec) == behaviour(gold.env_spec)
    env = compile_spec(assembly.spec).make_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (len(gold.sar.observations),)
    assert env.action_space.n == len(gold.sar.actions)


def test_bounds_copied_from_the_start_range_are_dropped() -> None:
    outputs = _outputs(CARTPOLE)
    outputs["variables"][1] = Variable(name="x_dot", role="state", low=-0.05, high=0.05, initial="uniform(-0.05, 0.05)")
    assembly = assemble(**outputs)
    x_dot = assembly.spec.state[1]
    assert x_dot.high == float("inf") and not x_dot.clip
    assert any("start range" in note for note in assembly.notes)
    assert assembly.spec.state[0].clip  # real bounds are kept


def test_statement_where_an_expression_was_asked_is_normalised() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["updates"] = [Assignment(target="position", expr="position_next = clip(position, 0, 10)")]
    assembly = assemble(**outputs)
    assert [(u.target, u.expr) for u in assembly.spec.updates] == [("position", "clip(position, 0, 10)")]
    assert any("read" in note for note in assembly.notes)
    outputs["updates"] = [Assignment(target="position", expr="other = 1")]  # another name: left to the compiler
    assert assemble(**outputs).spec.updates[0].expr == "other = 1"


def test_parameter_symbols_from_the_text_become_alias_constants() -> None:
    outputs = _outputs(CORRIDOR)
    first = outputs["parameters"][0]
    outputs["parameters"][0] = first.model_copy(update={"symbol": "τ"})
    outputs["parameters"].append(Parameter(name="clash", value=1.0, symbol=first.name))  # would shadow: skipped
    assembly = assemble(**outputs)
    assert assembly.spec.constants["tau"] == first.value
    assert assembly.spec.constants[first.name] == first.value
    assert any("'τ'" in note and "'tau'" in note for note in assembly.notes)
    compile_spec(assembly.spec)


# ---------------------------------------------------------------------------------------------------------------
# Normalisations of what the small model writes (each from a failure seen in real runs)


def _queues(reward: str, terminated: str, updates: list[Assignment]) -> dict:
    """Three queues (wireless-like): serving one queue empties it by one; every queue gets one arrival per step."""
    return {
        "parameters": [Parameter(name="user1_queue_next_limit", value=6.0)],
        "variables": [
            Variable(name=f"user{i}_queue", role="state", low=0, high=100, initial=str(i)) for i in (1, 2, 3)
        ],
        "constraints": [Constraint(expression=terminated, kind="termination")],
        "mdp": MDPModel(
            states=["user1_queue", "user2_queue", "user3_queue"],
            actions=["serve1", "serve2"],
            transitions=[],
            reward=reward,
            horizon=50,
        ),
        "sar": SARSpec(
            observations=["user1_queue", "user2_queue", "user3_queue"],
            reward=reward,
            actions=[
                {"name": "serve1", "effect": "user1_queue -= 1"},
                {"name": "serve2", "effect": "user2_queue -= 1"},
            ],
        ),
        "updates": updates,
    }


def test_next_value_names_in_reward_and_termination_read_as_the_updated_state() -> None:
    arrivals = [Assignment(target=f"user{i}_queue", expr=f"user{i}_queue + 1") for i in (1, 2, 3)]
    outputs = _queues(
        "-(user1_queue_next + user2_queue_next + user3_queue_next)",
        "user1_queue_next >= user1_queue_next_limit",
        arrivals,
    )
    assembly = assemble(**outputs)
    spec = assembly.spec
    assert spec.reward == "-(user1_queue + user2_queue + user3_queue)"
    # The longer identifier that starts with a rewritten name is a constant of its own and is left alone.
    assert spec.terminated == ["user1_queue >= user1_queue_next_limit"]
    assert sum("'user1_queue_next'" in note and "'user1_queue'" in note for note in assembly.notes) == 1
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    env.set_state([1.0, 2.0, 3.0])
    obs, reward, terminated, _, _ = env.step(0)  # serve1: 1-1+1, 2+1, 3+1
    assert list(obs) == [1.0, 3.0, 4.0]
    assert reward == -8.0  # minus the queues after the updates, not before (-6)
    assert not terminated
    env.set_state([6.0, 0.0, 0.0])
    assert env.step(1)[2]  # user1_queue becomes 7 >= 6: the condition is on the updated value


def test_next_value_name_defined_by_an_update_is_not_rewritten() -> None:
    # user1_queue_next is an intermediate here, and not the next value of user1_queue: it must keep its meaning.
    updates = [
        Assignment(target="user1_queue_next", expr="user1_queue + 10"),
        Assignment(target="user1_queue", expr="user1_queue + 1"),
    ]
    outputs = _queues("-user1_queue_next", "user1_queue > 90", updates)
    assembly = assemble(**outputs)
    assert assembly.spec.reward == "-user1_queue_next"
    assert not any("read as state" in note for note in assembly.notes)
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    env.set_state([5.0, 0.0, 0.0])
    obs, reward, *_ = env.step(1)
    assert obs[0] == 6.0 and reward == -15.0


def test_identity_updates_are_dropped_even_for_constants() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["parameters"].append(Parameter(name="channel1_good", value=1.0))
    outputs["sar"] = outputs["sar"].model_copy(
        update={
            "actions": [
                *outputs["sar"].actions[:1],
                outputs["sar"].actions[1].model_copy(update={"effect": "position = position"}),
            ]
        }
    )
    outputs["updates"] = [
        Assignment(target="channel1_good", expr="channel1_good"),
        Assignment(target="channel1_good", expr="channel1_good = channel1_good"),  # statement form
        Assignment(target="position", expr="clip(position, 0, 10)"),
    ]
    assembly = assemble(**outputs)
    spec = assembly.spec
    assert [(u.target, u.expr) for u in spec.updates] == [("position", "clip(position, 0, 10)")]
    assert spec.actions[1].updates == []
    assert sum("identity" in note for note in assembly.notes) == 3
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    env.set_state([4.0])
    assert env.step(1)[0][0] == 4.0 and env.step(0)[0][0] == 3.0
    # Kept, the same update is refused: that is the failure this normalisation removes.
    kept = spec.model_copy(
        update={"updates": [Assignment(target="channel1_good", expr="channel1_good"), *spec.updates]}
    )
    with pytest.raises(SpecError, match="constant"):
        compile_spec(kept)


def _mountain_car(update: str, *, parameters: list[Parameter] | None = None) -> dict:
    actions = ["push_left", "no_push", "push_right"]
    return {
        "parameters": parameters or [Parameter(name="goal_position", value=0.5)],
        "variables": [
            Variable(name="position", role="state", low=-1.2, high=0.6, initial="-0.5"),
            Variable(name="velocity", role="state", low=-0.07, high=0.07, initial="0"),
        ],
        "constraints": [Constraint(expression="position >= 0.5", kind="termination")],
        "mdp": MDPModel(states=["position", "velocity"], actions=actions, transitions=[], reward="-1", horizon=200),
        "sar": SARSpec(observations=["position", "velocity"], actions=[{"name": a} for a in actions], reward="-1"),
        "updates": [
            Assignment(target="velocity", expr=update),
            Assignment(target="position", expr="position + velocity"),
        ],
    }


def test_action_names_used_as_values_become_indicators() -> None:
    outputs = _mountain_car("velocity + 0.001 * (push_right - push_left) - 0.0025 * cos(3 * position)")
    assembly = assemble(**outputs)
    spec = assembly.spec
    flags = {a.name: {u.target: u.expr for u in a.updates} for a in spec.actions}
    assert flags == {
        "push_left": {"push_left": "1", "push_right": "0"},
        "no_push": {"push_left": "0", "push_right": "0"},
        "push_right": {"push_left": "0", "push_right": "1"},
    }  # no_push is not used: no indicator
    assert any("push_left" in note and "action variable" in note for note in assembly.notes)
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    velocities = []
    for action in range(3):
        env.set_state([-0.5, 0.0])
        velocities.append(float(env.step(action)[0][1]))
    gravity = -0.0025 * math.cos(3 * -0.5)
    assert velocities == pytest.approx([gravity - 0.001, gravity, gravity + 0.001], abs=1e-7)


def test_action_names_defined_otherwise_or_inside_longer_names_are_not_indicators() -> None:
    # push_right_gain contains an action name; no_push is a constant: neither is an indicator.
    parameters = [Parameter(name="push_right_gain", value=2.0), Parameter(name="no_push", value=0.0005)]
    outputs = _mountain_car("velocity + 0.001 * push_right_gain * push_left + no_push", parameters=parameters)
    spec = assemble(**outputs).spec
    assert [[u.target for u in a.updates] for a in spec.actions] == [["push_left"]] * 3
    assert spec.updates[0].expr == "velocity + 0.001 * push_right_gain * push_left + no_push"
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    env.set_state([-0.5, 0.0])
    assert env.step(0)[0][1] == pytest.approx(0.002 + 0.0005)
    env.set_state([-0.5, 0.0])
    assert env.step(2)[0][1] == pytest.approx(0.0005)


def test_parameter_values_may_be_lists_of_numbers() -> None:
    assert Parameter(name="p", value=9.8).value == 9.8 and isinstance(Parameter(name="p", value=3).value, float)
    assert Parameter(name="p", value=[2, "2.5"]).value == [2.0, 2.5]
    assert Parameter(name="p", value=((1, 1), (1, 3))).value == [[1.0, 1.0], [1.0, 3.0]]  # tuples, as written
    assert Parameter.model_validate_json('{"name": "p", "value": [[1, 2], [3, 4]]}').value == [[1.0, 2.0], [3.0, 4.0]]
    for bad in ([], [1, "x"], [1, None]):
        with pytest.raises(ValueError):
            Parameter(name="p", value=bad)
    # The schema shown to the model is unchanged: a number.
    assert Parameter.model_json_schema()["properties"]["value"]["type"] == "number"


def test_list_parameters_become_indexed_constants() -> None:
    outputs = _outputs(CORRIDOR)
    outputs["parameters"] += [
        Parameter(name="package_location", value=[2.0, 7.0]),
        Parameter(name="building_locations", value=[[1, 1], [1, 3], [3, 1], [3, 3]]),
        Parameter(name="blocked", value=[4, 5]),
        Parameter(name="start", value=[1, 2, 3]),
    ]
    outputs["variables"].append(Variable(name="blocked_x", role="exogenous", initial="integers(0, 2)"))
    outputs["updates"] = [
        Assignment(
            target="position",
            expr="clip(position + building_locations_2_0 - package_location_0 + package_location_y - 7, 0, 10)",
        )
    ]
    assembly = assemble(**outputs)
    constants = assembly.spec.constants
    assert "package_location" not in constants and "building_locations" not in constants
    assert (constants["package_location_0"], constants["package_location_1"]) == (2.0, 7.0)
    assert (constants["package_location_x"], constants["package_location_y"]) == (2.0, 7.0)
    assert [constants[f"building_locations_{i}_{j}"] for i in range(4) for j in range(2)] == [1, 1, 1, 3, 3, 1, 3, 3]
    assert constants["start_2"] == 3.0 and "start_x" not in constants  # three numbers are no point
    assert "blocked_y" not in constants  # blocked_x is a variable: no aliases at all
    assert sum("is a list" in note for note in assembly.notes) == 4
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    env.set_state([5.0])
    assert env.step(1)[0][0] == 6.0 + 3.0 - 2.0  # right (+1), then + 3 - 2 + 7 - 7


def test_expand_parameters_keeps_scalars_and_explicit_element_names() -> None:
    scalar = Parameter(name="loc_0", value=9.0, symbol="L")
    expanded, notes = expand_parameters(parameters=[Parameter(name="loc", value=[1, 2]), scalar])
    assert expanded[-1] is scalar
    assert {p.name: p.value for p in expanded} == {"loc_1": 2.0, "loc_x": 1.0, "loc_y": 2.0, "loc_0": 9.0}
    assert len(notes) == 1 and "loc_0" in notes[0]
    assert all(isinstance(p.value, float) for p in expanded)


def test_only_whole_names_read_as_values_are_seen() -> None:
    from alamp.assemble import _names_in, _rename

    text = "min(x_next, x_next_max) + uniform(low=x_next) + np.x_next - (x_next == 1) + x_next2"
    assert _names_in(text) == {"x_next", "x_next_max", "x_next2", "np"}
    assert _rename(text, {"x_next": "x", "min": "m", "low": "l"}) == (
        "min(x, x_next_max) + uniform(low=x) + np.x_next - (x == 1) + x_next2"
    )


def test_a_horizon_written_as_a_parameter_name_takes_its_value() -> None:
    # Real output of the embedded model (cartpole, Modeling agent): "horizon": max_steps, unquoted.
    outputs = _outputs(CORRIDOR)
    mdp = outputs["mdp"].model_dump()
    outputs["mdp"] = MDPModel.model_validate({**mdp, "horizon": "max_steps"})
    assert outputs["mdp"].horizon_parameter == "max_steps"
    assert "horizon_parameter" not in MDPModel.model_json_schema()["properties"]  # never asked of the model
    outputs["parameters"].append(Parameter(name="max_steps", value=137))
    assembly = assemble(**outputs)
    assert assembly.spec.max_steps == 137 and any("max_steps" in n for n in assembly.notes)
    outputs["parameters"].pop()
    assert assemble(**outputs).spec.max_steps == 500  # names nothing: the default, with a note
    assert MDPModel.model_validate({**mdp, "horizon": "200 steps"}).horizon == 200


def test_termination_conditions_true_at_every_start_are_read_as_allowed_ranges() -> None:
    # Real output of the embedded model (cartpole): the allowed ranges listed as termination conditions.
    outputs = _outputs(CARTPOLE)
    outputs["constraints"] = [
        Constraint(expression=e, kind="termination")
        for e in ("x >= -2.4", "x <= 2.4", "-0.2095 <= theta <= 0.2095", "abs(theta_dot) > 100", "temp > 1e9")
    ]
    assembly = assemble(**outputs)
    assert assembly.spec.terminated == [
        "not (x >= -2.4)", "not (x <= 2.4)", "not (-0.2095 <= theta <= 0.2095)",
        "abs(theta_dot) > 100",  # false at the start: a real termination condition, kept
        "temp > 1e9",  # names an intermediate of the updates: not probed, kept
    ]  # fmt: skip
    assert sum("holds at every start state" in n for n in assembly.notes) == 3
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    lengths = []
    for _ in range(3):  # the pole now falls over tens of steps instead of every episode ending at once
        env.reset()
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            steps, done = steps + 1, terminated or truncated
        lengths.append(steps)
    assert min(lengths) > 3


def test_a_start_state_that_is_terminal_only_sometimes_is_not_inverted() -> None:
    outputs = _outputs(CARTPOLE)
    outputs["constraints"] = [Constraint(expression="x > 0", kind="termination")]  # x starts in ±0.05: half the time
    assert assemble(**outputs).spec.terminated == ["x > 0"]


def test_constants_in_text_are_literal_single_valued_definitions() -> None:
    text = (
        "total mass M = 1.1 kg and m·l = 0.05 kg·m; τ = 0.02 s. Here x = 2 * y and v = v + 1 are equations, "
        "F = −10 N or F = +10 N is two values, and k = 3."
    )
    assert constants_in_text(text) == {"M": 1.1, "m_l": 0.05, "tau": 0.02, "k": 3.0}


def test_a_name_only_the_text_defines_becomes_a_constant_when_read() -> None:
    # Real failure (cartpole, seed 1): the Env agent used the text's M; the Parameter agent had not extracted it.
    outputs = _outputs(CARTPOLE)
    outputs["updates"] = [Assignment(target="x_dot", expr="x_dot + tau * force / M"), *outputs["updates"]]
    with pytest.raises(SpecError, match="unknown name 'M'"):
        compile_spec(assemble(**outputs).spec)
    assembly = assemble(**outputs, text_constants={"M": 1.1, "k": 3.0, "tau": 99.0, "sin": 1.0})
    assert assembly.spec.constants["M"] == 1.1
    assert "k" not in assembly.spec.constants  # not read by any expression
    assert assembly.spec.constants["tau"] == 0.02  # the Parameter agent's value wins
    assert "sin" not in assembly.spec.constants  # never shadows a function
    compile_spec(assembly.spec)


def test_a_next_value_read_after_its_update_is_that_state() -> None:
    # Real output (cartpole, seed 2): x_next = x + 0.02 * v_next, after an update of v; nothing defines v_next.
    outputs = _outputs(CORRIDOR)
    outputs["variables"] = [Variable(name="position", role="state", low=0, high=10, initial="0"),
                            Variable(name="speed", role="state", low=-5, high=5, initial="0")]  # fmt: skip
    outputs["updates"] = [
        Assignment(target="speed", expr="speed + 1"),
        Assignment(target="position", expr="position + speed_next"),
    ]
    assembly = assemble(**outputs)
    assert assembly.spec.updates[-1].expr == "position + speed"
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    obs, *_ = env.step(1)  # right: position + 1, then speed 1, then position + the new speed
    assert list(obs) == [2.0]
    # Read before the update that sets it, the next value is not known yet: left for the checker to report.
    outputs["updates"] = outputs["updates"][::-1]
    with pytest.raises(SpecError, match="speed_next"):
        compile_spec(assemble(**outputs).spec)


def test_the_symbol_the_text_gives_the_action_reads_as_the_action_index() -> None:
    # Real failure (mountain_car): "(a − 1)·0.001 ... where a is 0, 1 or 2 for the chosen action"; the Parameter
    # agent extracted a = 0 as a constant, so the car ignored the driver.
    text = "velocity ← velocity + (a − 1)·0.001, where a is 0, 1 or 2 for the chosen action."
    assert action_symbols_in_text(text) == {"a"}
    outputs = _outputs(CORRIDOR)
    outputs["parameters"].append(Parameter(name="a", value=0))
    outputs["sar"] = SARSpec(observations=["position"], reward="-1",
                             actions=[{"name": n, "effect": ""} for n in ("left", "stay", "right")])  # fmt: skip
    outputs["updates"] = [Assignment(target="position", expr="position + (a - 1)")]
    assembly = assemble(**outputs, text_action_symbols=action_symbols_in_text(text))
    assert assembly.spec.updates[0].expr == "position + (action - 1)"
    assert any("'a' read as the chosen action's index" in n and "no longer read" in n for n in assembly.notes)
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    assert env.step(2)[0][0] == 1.0 and env.step(0)[0][0] == 0.0
    assert action_symbols_in_text("Each step the reward is the cost of the action.") == set()


def test_an_action_setting_a_next_value_sets_the_state() -> None:
    # Real output (wireless, seed 0; mountain_car, seed 2): "serve_user1: user1_queue_next = ..." for one action
    # only; the checker refused an action variable that not every action assigns.
    outputs = _outputs(CORRIDOR)
    outputs["sar"] = SARSpec(observations=["position"], reward="-1", actions=[
        {"name": "left", "effect": "position_next = position - 1"},
        {"name": "right", "effect": "position_next = position + 1"},
        {"name": "stay", "effect": ""},
    ])  # fmt: skip
    outputs["updates"] = [Assignment(target="position", expr="clip(position_next, 0, 10)")]
    assembly = assemble(**outputs)
    assert [[(u.target, u.expr) for u in a.updates] for a in assembly.spec.actions] == [
        [("position", "position - 1")], [("position", "position + 1")], []
    ]
    assert assembly.spec.updates[0].expr == "clip(position, 0, 10)"
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    assert [env.step(a)[0][0] for a in (1, 1, 2, 0)] == [1.0, 2.0, 2.0, 1.0]


def test_indexed_next_value_names_read_as_their_state() -> None:
    # Real output (wireless, seed 2): queue_length_1 = queue_length_next_1, nothing defining queue_length_next_1.
    outputs = _outputs(CORRIDOR)
    outputs["variables"] = [Variable(name="queue_1", role="state", low=0, high=10, initial="0")]
    outputs["sar"] = SARSpec(observations=["queue_1"], reward="-queue_next_1", actions=[
        {"name": "add", "effect": "queue_next_1 = queue_1 + 1"}, {"name": "wait", "effect": ""}])  # fmt: skip
    outputs["updates"] = [Assignment(target="queue_1", expr="min(queue_next_1, 10)")]
    outputs["constraints"] = [Constraint(expression="queue_1 >= 10", kind="termination")]
    assembly = assemble(**outputs)
    assert assembly.spec.reward == "-queue_1" and assembly.spec.updates[0].expr == "min(queue_1, 10)"
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    assert env.step(0)[1] == -1.0


def test_a_goal_written_as_float_equality_is_read_as_reaching_it() -> None:
    # Real output of the embedded model (mountain_car, seed 0): "reaches 0.5" written as position == 0.5, which the
    # car never meets exactly, so every episode ran to the horizon.
    outputs = _mountain_car("velocity + (action - 1) * 0.001 - 0.0025 * cos(3 * position)")
    outputs["constraints"] = [
        Constraint(expression="position == goal_position and velocity >= 0", kind="termination"),
        Constraint(expression="velocity == 0.5", kind="termination"),  # starts at 0, below: reached from below
    ]
    assembly = assemble(**outputs)
    assert assembly.spec.terminated == ["position >= goal_position and velocity >= 0", "velocity >= 0.5"]
    assert sum("almost never" in note for note in assembly.notes) == 2
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    env.set_state([0.499, 0.07])
    assert env.step(2)[2]  # crosses 0.5 without hitting it exactly: the episode ends


def test_equalities_on_whole_number_states_and_straddled_targets_are_kept() -> None:
    outputs = _mountain_car("velocity + (action - 1) * 0.001")
    outputs["variables"][0] = Variable(name="position", role="state", low=-1.2, high=0.6, initial="uniform(-0.6, 0.6)")
    outputs["constraints"] = [
        Constraint(expression="position == 0.0", kind="termination"),  # starts on both sides: left as written
        Constraint(expression="velocity == 3", kind="termination"),  # whole-number start and target: a counter
    ]
    assembly = assemble(**outputs)
    assert assembly.spec.terminated == ["position == 0.0", "velocity == 3"]
    assert not any("almost never" in note for note in assembly.notes)


def test_formulas_the_text_defines() -> None:
    text = (
        "With F the force: temp = (F + m·l·θ̇²·sin θ) / M,\n"
        "θ̈ = (g·sin θ − cos θ·temp) / l, then x ← x + τ·ẋ, and reward = min(release, 8) − 3·spill.\n"
        "M = 1.1 kg; y = 2 and y = 3; z = a + 1, later z = a + 2; w = print(x).\n"
        "m·dv/dt = F − k·v²"  # a differential equation defines no dt (cruise_control, train)
    )
    assert formulas_in_text(text) == {
        "temp": "(F + m * l * theta_dot ** 2 * sin(theta)) / M",
        "theta_ddot": "(g * sin(theta) - cos(theta) * temp) / l",
        "reward": "min(release, 8) - 3 * spill",
    }  # x reads itself (an update), M and y are numbers, z has two formulas, print is no function of the language


def test_a_name_nothing_defines_gets_the_texts_formula_before_its_first_reader() -> None:
    # Real output of the embedded model (cartpole, seed 0, plain-math text): the Env agent wrote
    # x_dot = x_dot + tau*x_ddot and theta_dot = theta_dot + tau*theta_ddot and never defined the accelerations.
    outputs = _outputs(CARTPOLE)
    names = {p.name for p in outputs["parameters"]}
    outputs["updates"] = [
        Assignment(target="x", expr="x + tau * x_dot"),
        Assignment(target="x_dot", expr="x_dot + tau * x_ddot"),
        Assignment(target="theta", expr="theta + tau * theta_dot"),
        Assignment(target="theta_dot", expr="theta_dot + tau * theta_ddot"),
    ]
    formulas = {
        "temp": "(force + 0.05 * theta_dot ** 2 * sin(theta)) / 1.1",
        "theta_ddot": "(gravity * sin(theta) - cos(theta) * temp) / 0.6",
        "x_ddot": "temp - 0.05 * theta_ddot * cos(theta) / 1.1",
        "unused": "undefined_name + 1",
    }
    assert "tau" in names
    assembly = assemble(**outputs, text_formulas=formulas)
    targets = [u.target for u in assembly.spec.updates]
    assert targets[:4] == ["x", "temp", "theta_ddot", "x_ddot"]  # inserted before x_dot's update, in order
    assert "unused" not in targets
    assert sum("the text gives its formula" in note for note in assembly.notes) == 3
    compile_spec(assembly.spec)  # every name now defined


def test_a_text_formula_that_reads_an_undefined_name_is_not_used() -> None:
    outputs = _outputs(CARTPOLE)
    outputs["updates"] = [Assignment(target="x_dot", expr="x_dot + tau * x_ddot")]
    assembly = assemble(**outputs, text_formulas={"x_ddot": "pole_mystery * 2"})
    assert "x_ddot" not in [u.target for u in assembly.spec.updates]
    with pytest.raises(SpecError, match="x_ddot"):
        compile_spec(assembly.spec)


def test_next_values_the_mdp_transitions_define_and_assigned_parameters() -> None:
    # Real output of the embedded model (wireless, seed 0): the Env agent wrote user1_queue = user1_queue_next
    # without defining user1_queue_next (the Modeling agent's transitions do), and updated channel1_good, which the
    # Variable agent had made a parameter.
    outputs = _outputs(CORRIDOR)
    outputs["parameters"].append(Parameter(name="channel_good", value=1.0))
    outputs["mdp"] = outputs["mdp"].model_copy(
        update={"transitions": ["position_next = clip(position + 2 * action - 1, 0, 10)",
                                "channel_good_next = 1 - channel_good"]}
    )
    outputs["updates"] = [
        Assignment(target="position", expr="position_next"),
        Assignment(target="channel_good", expr="channel_good_next"),
    ]
    assembly = assemble(**outputs)
    spec = assembly.spec
    assert [u.target for u in spec.updates][:2] == ["channel_good_next", "position_next"]
    assert "channel_good" not in spec.constants
    assert [v.name for v in spec.state][-1] == "channel_good" and spec.state[-1].init == "1.0"
    assert any("MDP's transitions give its formula" in n for n in assembly.notes)
    assert any("'channel_good' is assigned by the updates" in n for n in assembly.notes)
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    assert env.step(1)[0][0] == 2.0  # the action moves 0 -> 1, then the transition's formula adds 1


def test_an_undeclared_name_updated_from_itself_is_a_counter_state() -> None:
    # Real output of the embedded model (drone, seed 0): steps_taken = steps_taken + 1, declared nowhere.
    outputs = _outputs(CORRIDOR)
    outputs["updates"] = [*outputs["updates"], Assignment(target="steps_taken", expr="steps_taken + 1")]
    assembly = assemble(**outputs)
    counter = assembly.spec.state[-1]
    assert (counter.name, counter.init) == ("steps_taken", "0")
    assert any("'steps_taken' is updated from itself" in note for note in assembly.notes)
    env = compile_spec(assembly.spec).make_env()
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    assert env.unwrapped.get_state()[-1] == 2.0
    # An intermediate assigned before it is read is not a counter.
    outputs["updates"] = [Assignment(target="temp", expr="position * 2"), Assignment(target="temp", expr="temp + 1")]
    assert [v.name for v in assemble(**outputs).spec.state] == ["position"]


def test_mountain_car_seed0_forms_an_unread_action_variable_a_clip_of_the_next_value_and_bound_names() -> None:
    # Real output of the embedded model (mountain_car, seed 0, actions rebuilt from the text): only the first action
    # sets `move`, which nothing reads; `velocity_next = max(min(velocity_next, high_velocity), low_velocity)` after
    # `velocity = ...`; high_velocity and low_velocity defined nowhere.
    outputs = _mountain_car("velocity + (action - 1) * 0.001 - 0.0025 * cos(3 * position)")
    outputs["sar"] = SARSpec(observations=["position", "velocity"], reward="-1", actions=[
        {"name": "left", "effect": "move = -1"}, {"name": "coast"}, {"name": "right"}])  # fmt: skip
    outputs["updates"] = [
        Assignment(target="velocity", expr="velocity + (action - 1) * 0.001 - 0.0025 * cos(3 * position)"),
        Assignment(target="velocity_next", expr="max(min(velocity_next, high_velocity), low_velocity)"),
        Assignment(target="position", expr="position + velocity"),
    ]
    assembly = assemble(**outputs)
    spec = assembly.spec
    assert all(a.updates == [] for a in spec.actions)
    assert spec.updates[1] == Assignment(target="velocity", expr="max(min(velocity, high_velocity), low_velocity)")
    assert (spec.constants["high_velocity"], spec.constants["low_velocity"]) == (0.07, -0.07)
    assert [v.name for v in spec.state] == ["position", "velocity"]  # velocity_next is no counter
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    env.unwrapped.set_state([-0.5, 0.0699])
    assert env.step(2)[0][1] == pytest.approx(0.07)  # clipped by the named bound
