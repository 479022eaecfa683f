"""Assembling the environment spec from the agents' typed outputs."""

from __future__ import annotations

import pytest
from program_scripts import CARTPOLE, CORRIDOR

from alamp.assemble import AssemblyError, assemble, parse_assignments
from alamp.schema import Assignment, Constraint, EnvSpec, MDPModel, Parameter, SARSpec, Variable
from alamp.spec import compile_spec
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
    outputs["updates"] = [Assignment(target="position", expr="clip(position + wind, 0, 10)"),
                          Assignment(target="reward", expr="-step_cost"),
                          Assignment(target="done", expr="position >= 9")]
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
    assembly = assemble(parameters=gold.parameters, variables=gold.variables, constraints=gold.constraints,
                        mdp=gold.mdp, sar=gold.sar, updates=gold.env_spec.updates, name=task_id)
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
    outputs["variables"][1] = Variable(name="x_dot", role="state", low=-0.05, high=0.05,
                                       initial="uniform(-0.05, 0.05)")
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
