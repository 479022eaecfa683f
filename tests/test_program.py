"""The composed programs on scripted fake LMs: whole chains, feedback and repair loops, candidates, accounting."""

from __future__ import annotations

import dspy
import pytest
from fake_lm import ScriptedLM
from program_scripts import (
    BROKEN_CORRIDOR_CODE,
    CARTPOLE,
    CARTPOLE_DESCRIPTION,
    CORRIDOR,
    CORRIDOR_DESCRIPTION,
    GOOD_CORRIDOR_CODE,
    with_code,
)

from alamp.program import AGENT_NAMES, ALAMP, PREDICTION_FIELDS, ProgramSettings, SingleModelBaseline, extract_code
from alamp.schema import EnvSpec, MDPModel, SARSpec

UPSTREAM = ("parameter", "objective", "variable", "constraint", "modeling", "sar")


@pytest.fixture(autouse=True)
def _reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


def _use(script: dict) -> ScriptedLM:
    lm = ScriptedLM(script)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    return lm


@pytest.mark.parametrize(
    ("script", "description", "obs_dim"),
    [(CARTPOLE, CARTPOLE_DESCRIPTION, 4), (CORRIDOR, CORRIDOR_DESCRIPTION, 1)],
    ids=["cartpole", "corridor"],
)
def test_whole_chain_compiler_route(script: dict, description: str, obs_dim: int) -> None:
    lm = _use(script)
    pred = ALAMP(ProgramSettings(coding="compiler"))(description=description, name="demo")
    assert pred.status == "ok", pred.error
    assert set(PREDICTION_FIELDS) <= set(pred.keys())
    assert pred.coding_path == "compiler" and pred.env_passed
    assert isinstance(pred.mdp, MDPModel) and isinstance(pred.sar, SARSpec) and isinstance(pred.env_spec, EnvSpec)
    assert pred.env_report.obs_dim == obs_dim and pred.env_report.n_actions == 2
    assert list(pred.stages) == [*UPSTREAM, "env"]
    # One LM call per agent, and the waterfall: the Objective agent saw the Parameter agent's output.
    assert all(count == 1 for count in lm.calls.values()) and len(lm.calls) == 7
    objective_prompt = next(user for name, user in lm.log if name == "ObjectiveSignature")
    first_param = script["ParameterSignature"][0]["parameters"][0]["name"]
    assert first_param in objective_prompt


@pytest.mark.parametrize("plain", [True, False])
def test_agents_read_typeset_maths_in_plain_form(plain: bool) -> None:
    lm = _use(CARTPOLE)
    description = CARTPOLE_DESCRIPTION + "\nThe pole obeys θ̈ = g·sin θ / l, and x ← x + τ·ẋ."
    pred = ALAMP(ProgramSettings(plain_math=plain))(description=description, name="demo")
    assert pred.status == "ok", pred.error
    prompts = [user for _, user in lm.log]
    # Seven agents, plus (plain form only) one Symbol value call each for g and l, which the formula reads and the
    # scripted Parameter agent names gravity and length.
    assert len(prompts) == (9 if plain else 7)
    assert lm.calls["SymbolValueSignature"] == (2 if plain else 0)
    if plain:
        assert all("theta_ddot = g*sin(theta) / l" in p and "x = x + tau*x_dot" in p for p in prompts)
        assert any("plain form" in note for note in pred.notes)
    else:
        assert all("θ̈ = g·sin θ / l" in p for p in prompts)
        assert not any("plain form" in note for note in pred.notes)


LEFT_ONLY = {"name": "left", "effect": "position -= 1"}


def test_a_sar_output_that_disagrees_with_the_stated_interface_is_sampled_again() -> None:
    stated = " The robot observes one number, its cell. Its actions, in this order: step left, step right."
    one_action = {"sar": dict(CORRIDOR["SARSignature"][0]["sar"], actions=[LEFT_ONLY])}
    lm = _use(dict(CORRIDOR, SARSignature=[one_action, CORRIDOR["SARSignature"][0]]))
    pred = ALAMP()(description=CORRIDOR_DESCRIPTION + stated)
    assert pred.status == "ok", pred.error
    assert lm.calls["SARSignature"] == 2 and [a.name for a in pred.sar.actions] == ["left", "right"]
    assert any("lists 2 actions" in note and "sampled again" in note for note in pred.notes)


def test_a_sar_action_list_still_short_after_resampling_is_rebuilt_from_the_text() -> None:
    stated = " Its actions, in this order: step left, step right."
    one_action = {"sar": dict(CORRIDOR["SARSignature"][0]["sar"], actions=[LEFT_ONLY])}
    script = dict(CORRIDOR, SARSignature=[one_action])
    script["EnvSignature"] = [{"updates": [{"target": "position", "expr": "clip(position + 2 * action - 1, 0, 10)"}]}]
    lm = _use(script)
    pred = ALAMP(ProgramSettings(stage_retries=2))(description=CORRIDOR_DESCRIPTION + stated)
    assert lm.calls["SARSignature"] == 3  # the first answer and two resamples, all with one action
    assert [a.name for a in pred.sar.actions] == ["left", "step_right"]
    assert pred.status == "ok", pred.error
    assert pred.env_report.n_actions == 2
    assert any("rebuilt" in note for note in pred.notes)


def test_stage_records_count_calls_and_tokens() -> None:
    _use(CORRIDOR)
    pred = ALAMP()(description=CORRIDOR_DESCRIPTION)
    for stage in UPSTREAM:
        record = pred.stages[stage]
        assert record["status"] == "ok" and record["lm"]["calls"] == 1
        assert record["lm"]["prompt_tokens"] > 0 and record["lm"]["completion_tokens"] > 0
        assert record["lm_by_agent"][stage]["calls"] == 1


def test_spec_errors_go_back_to_the_env_agent() -> None:
    broken = {"updates": [{"target": "position", "expr": "clip(position + drift, 0, 10)"}]}
    script = dict(CORRIDOR, EnvSignature=[broken, *CORRIDOR["EnvSignature"]])
    lm = _use(script)
    pred = ALAMP(ProgramSettings(max_repairs=1))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and lm.calls["EnvSignature"] == 2
    assert [a["passed"] for a in pred.attempts] == [False, True]
    assert pred.attempts[0]["stage_failed"] == "spec" and "drift" in pred.attempts[0]["error"]
    second_prompt = [user for name, user in lm.log if name == "EnvSignature"][1]
    assert "drift" in second_prompt  # the checker's words reached the agent


def test_an_environment_the_actions_do_not_move_goes_back_to_the_env_agent() -> None:
    sar = {"sar": {"observations": ["position"], "reward": "-step_cost",
                   "actions": [{"name": "left", "effect": "move = -1"}, {"name": "right", "effect": "move = 1"}]}}
    ignores_move = {"updates": [{"target": "position", "expr": "clip(position + 0, 0, 10)"}]}
    reads_move = {"updates": [{"target": "position", "expr": "clip(position + move, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, SARSignature=[sar], EnvSignature=[ignores_move, reads_move]))
    pred = ALAMP(ProgramSettings(max_repairs=1))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and [a["passed"] for a in pred.attempts] == [False, True]
    assert pred.attempts[0]["stage_failed"] == "actions"
    second_prompt = [user for name, user in lm.log if name == "EnvSignature"][1]
    assert "the actions have no effect" in second_prompt and "the actions set move" in second_prompt


def test_actions_that_set_nothing_get_a_hint_naming_their_indicators() -> None:
    sar = {"sar": {"observations": ["position"], "reward": "-step_cost",
                   "actions": [{"name": "go_left", "effect": ""}, {"name": "go_right", "effect": ""}]}}
    ignores = {"updates": [{"target": "position", "expr": "clip(position + 0, 0, 10)"}]}
    indicators = {"updates": [{"target": "position", "expr": "clip(position + go_right - go_left, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, SARSignature=[sar], EnvSignature=[ignores, indicators]))
    pred = ALAMP(ProgramSettings(max_repairs=1))(description=CORRIDOR_DESCRIPTION)
    second_prompt = [user for name, user in lm.log if name == "EnvSignature"][1]
    assert "each action's name (go_left, go_right) is 1 when that action is chosen" in second_prompt
    assert pred.status == "ok" and [a["passed"] for a in pred.attempts] == [False, True]


def test_llm_route_repair_round() -> None:
    lm = _use(with_code(CORRIDOR, code=[BROKEN_CORRIDOR_CODE], fixes=[GOOD_CORRIDOR_CODE]))
    pred = ALAMP(ProgramSettings(coding="llm", max_repairs=2))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and pred.coding_path == "llm"
    assert [(a["attempt"], a["passed"]) for a in pred.attempts] == [(0, False), (1, True)]
    assert "NameError" in pred.attempts[0]["error"]
    repair_prompt = next(user for name, user in lm.log if name == "RepairSignature")
    assert "name 'spaces' is not defined" in repair_prompt
    assert pred.code.strip() == GOOD_CORRIDOR_CODE.strip()
    assert pred.stages["coding"]["lm_by_agent"]["repair"]["calls"] == 1


def test_llm_route_repairs_exhausted() -> None:
    lm = _use(with_code(CORRIDOR, code=[BROKEN_CORRIDOR_CODE], fixes=[BROKEN_CORRIDOR_CODE]))
    pred = ALAMP(ProgramSettings(coding="llm", max_repairs=2))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "env_failed" and not pred.env_passed and pred.coding_path is None
    assert lm.calls["CodingSignature"] == 1 and lm.calls["RepairSignature"] == 2
    assert len(pred.attempts) == 3 and "NameError" in pred.error
    # Nothing upstream is lost.
    assert pred.mdp is not None and pred.sar is not None and pred.parameters


def test_candidates_each_get_a_repair_budget() -> None:
    lm = _use(with_code(CORRIDOR, code=[BROKEN_CORRIDOR_CODE, GOOD_CORRIDOR_CODE], fixes=[BROKEN_CORRIDOR_CODE]))
    pred = ALAMP(ProgramSettings(coding="llm", max_repairs=1, num_candidates=2))(description=CORRIDOR_DESCRIPTION)
    assert pred.env_passed
    assert [(a["candidate"], a["attempt"], a["passed"]) for a in pred.attempts] == [
        (0, 0, False),
        (0, 1, False),
        (1, 0, True),
    ]
    assert lm.calls["CodingSignature"] == 2
    # Later candidates are sampled past the cache: a distinct rollout id at a temperature above zero.
    coding_calls = [h for h in lm.history if "rollout_id" in (h.get("kwargs") or {})]
    assert coding_calls and all(h["kwargs"]["temperature"] > 0 for h in coding_calls)


def test_a_replicate_seed_samples_every_agent_call_reproducibly() -> None:
    greedy = _use(CORRIDOR)
    ALAMP(ProgramSettings())(description=CORRIDOR_DESCRIPTION)
    assert all("rollout_id" not in (h.get("kwargs") or {}) for h in greedy.history)  # seed 0: as configured
    runs = []
    for replicate in (2, 2, 3):
        lm = _use(CORRIDOR)
        pred = ALAMP(ProgramSettings(sampling_seed=replicate, sampling_temperature=0.4))(
            description=CORRIDOR_DESCRIPTION
        )
        assert pred.status == "ok"
        calls = [h.get("kwargs") or {} for h in lm.history]
        assert len(calls) == len(greedy.history)
        assert all(c.get("temperature") == 0.4 and c.get("seed") == c.get("rollout_id") for c in calls)
        runs.append([c["rollout_id"] for c in calls])
    assert runs[0] == runs[1]  # the same replicate asks for the same samples (reproducible, cacheable)
    assert not set(runs[0]) & set(runs[2])  # another replicate never reuses them


def test_compiler_then_llm_falls_back_to_code() -> None:
    bad_env = {"updates": [{"target": "position", "expr": "position + undefined_thing"}]}
    script = with_code(dict(CORRIDOR, EnvSignature=[bad_env]), code=[GOOD_CORRIDOR_CODE], fixes=[])
    _use(script)
    pred = ALAMP(ProgramSettings(coding="compiler_then_llm", max_repairs=0))(description=CORRIDOR_DESCRIPTION)
    assert pred.env_passed and pred.coding_path == "llm"
    assert [a["route"] for a in pred.attempts] == ["compiler", "llm"]


def test_unparsable_upstream_output_fails_that_stage_clearly() -> None:
    script = dict(CORRIDOR, VariableSignature=[{"variables": "no idea"}])
    lm = _use(script)
    pred = ALAMP(ProgramSettings(stage_retries=1))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "failed" and pred.failed_stage == "variable"
    assert pred.error
    assert lm.calls["ConstraintSignature"] == 0  # the chain stops at the failed stage
    assert pred.parameters and pred.objectives  # what came before is kept


def test_schema_validator_rejects_bounds_in_wrong_order() -> None:
    bad = {"variables": [{"name": "position", "role": "state", "low": 10, "high": 0}]}
    dspy.configure(
        lm=ScriptedLM(dict(CORRIDOR, VariableSignature=[bad])),
        adapter=dspy.ChatAdapter(use_json_adapter_fallback=False),
    )
    pred = ALAMP(ProgramSettings(stage_retries=0))(description=CORRIDOR_DESCRIPTION)
    assert pred.failed_stage == "variable" and "low=10.0 > high=0.0" in pred.error


def test_single_model_baseline_same_contract() -> None:
    one_call = {k: v for answer in CORRIDOR.values() for k, v in answer[0].items()}
    one_call["objectives"] = CORRIDOR["ObjectiveSignature"][0]["objectives"]
    lm = _use({"SingleModelSignature": [one_call]})
    pred = SingleModelBaseline()(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and pred.env_passed and pred.coding_path == "compiler"
    assert set(PREDICTION_FIELDS) <= set(pred.keys())
    assert lm.calls == {"SingleModelSignature": 1}


def test_single_model_baseline_llm_route_with_repair() -> None:
    answer = {
        "parameters": CORRIDOR["ParameterSignature"][0]["parameters"],
        "mdp": CORRIDOR["ModelingSignature"][0]["mdp"],
        "sar": CORRIDOR["SARSignature"][0]["sar"],
        "code": BROKEN_CORRIDOR_CODE,
    }
    _use({"SingleModelCodeSignature": [answer], "RepairSignature": [{"fixed_code": GOOD_CORRIDOR_CODE}]})
    pred = SingleModelBaseline(ProgramSettings(coding="llm"))(description=CORRIDOR_DESCRIPTION)
    assert pred.env_passed and pred.coding_path == "llm" and len(pred.attempts) == 2


def test_agent_attribute_names_are_stable() -> None:
    names = {name for name, _ in ALAMP().named_predictors()}
    assert names == set(AGENT_NAMES)


def test_per_agent_lm_override() -> None:
    other = ScriptedLM({})
    program = ALAMP(lms={"coding": other})
    assert program.coding.lm is other and program.parameter.lm is None
    with pytest.raises(ValueError, match="no agent named 'coder'"):
        ALAMP(lms={"coder": other})


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="coding='python'"):
        ProgramSettings(coding="python")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_candidates"):
        ProgramSettings(num_candidates=0)


def test_extract_code_from_fences() -> None:
    assert extract_code("Here:\n```python\nx = 1\n```\nDone") == "x = 1\n"
    assert extract_code("x = 2") == "x = 2\n"


def test_names_read_but_never_defined_are_asked_for_under_the_names_grammar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader stays; the missing helper is asked for as its own item, before its first reader (or after the step
    for the reward), with the names defined at that point (elevator and epidemic_control, dev, read such names)."""
    monkeypatch.setattr("alamp.lm.adapter.constrains_expressions", lambda adapter=None: True)
    sar = {"sar": {"observations": ["position"], "reward": "-step_cost - wear",
                   "actions": [{"name": "left", "effect": "move = -1"}, {"name": "right", "effect": "move = 1"}]}}
    reads_undefined = {"updates": [{"target": "position", "expr": "clip(position + move * speed, 0, 10)"}]}
    items = {"speed": {"assignment": {"target": "speed", "expr": "1"}},
             "wear": {"assignment": {"target": "wear", "expr": "0.1 * abs(move)"}}}  # fmt: skip

    def item(user: str) -> dict:
        target = user.split("[[ ## target ## ]]", 1)[1].split()[0]
        return items[target]

    lm = _use(dict(CORRIDOR, SARSignature=[sar], EnvSignature=[reads_undefined], EnvItemSignature=[item]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=0))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok", pred.error
    assert lm.calls["EnvItemSignature"] == 2
    assert [(u.target, u.expr) for u in pred.updates] == [
        ("speed", "1"), ("position", "clip(position + move * speed, 0, 10)"), ("wear", "0.1 * abs(move)")
    ]
    wear_prompt = [user for name, user in lm.log if name == "EnvItemSignature"][1]
    assert "position = clip(position + move * speed, 0, 10)" in wear_prompt  # the step so far is shown
    assert any("wear was read but never defined" in note for a in pred.attempts for note in a.get("items", []))


def test_every_name_an_effect_sets_is_defined(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dr = 0; dc = -1`` sets both names: on frozen_lake (dev) only the first of a line counted, and an item
    redefined ``dc`` as ``clip(col + dr, 0, grid_size - 1)``, which broke every move along the columns."""
    monkeypatch.setattr("alamp.lm.adapter.constrains_expressions", lambda adapter=None: True)
    sar = {"sar": {"observations": ["position"], "reward": "-step_cost",
                   "actions": [{"name": "left", "effect": "move = -1; step = 1"},
                               {"name": "right", "effect": "move = 1; step = 2"}]}}  # fmt: skip
    reads_both = {"updates": [{"target": "position", "expr": "clip(position + move * step, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, SARSignature=[sar], EnvSignature=[reads_both]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=0))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok", pred.error
    assert lm.calls["EnvItemSignature"] == 0


def test_an_answer_missing_many_names_goes_back_to_the_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("alamp.lm.adapter.constrains_expressions", lambda adapter=None: True)
    far_off = {"updates": [{"target": "position", "expr": "clip(position + a + b + c + d, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, EnvSignature=[far_off, *CORRIDOR["EnvSignature"]]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=1))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and lm.calls["EnvItemSignature"] == 0
    assert "left to the checker's feedback" in pred.attempts[0]["items"][0]


def test_an_unparsable_update_is_left_to_the_checker_not_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """``if move_up: floor_next = floor + 1`` (elevator, dev) reads no quantity called ``if``: nothing is asked."""
    monkeypatch.setattr("alamp.lm.adapter.constrains_expressions", lambda adapter=None: True)
    prose = {"updates": [{"target": "position", "expr": "if right: position + 1 else position - 1"}]}
    lm = _use(dict(CORRIDOR, EnvSignature=[prose, *CORRIDOR["EnvSignature"]]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=1))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and lm.calls["EnvItemSignature"] == 0
    assert "not a valid Python expression" in pred.attempts[0]["error"]


@pytest.mark.parametrize(("budget", "calls"), [(0.0, 1), (None, 2)])
def test_the_env_budget_stops_sampling_once_a_candidate_passes(budget: float | None, calls: int) -> None:
    """Budget spent and one candidate passing: no further sample (elevator, dev, spent 7.7 minutes on 18 Env calls).
    Without a budget the consensus decides (two agreeing samples of three settle it)."""
    lm = _use(CORRIDOR)
    pred = ALAMP(ProgramSettings(num_candidates=3, env_budget_s=budget))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and lm.calls["EnvSignature"] == calls
    assert any("env_budget_s" in note for note in pred.notes) is (budget is not None)


def test_an_env_budget_never_stops_before_a_candidate_passes() -> None:
    broken = {"updates": [{"target": "position", "expr": "clip(position + drift, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, EnvSignature=[broken, *CORRIDOR["EnvSignature"]]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=1, env_budget_s=0.0))(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "ok" and lm.calls["EnvSignature"] == 2


@pytest.mark.parametrize(("give_up", "calls"), [(0.0, 1), (None, 6)])
def test_a_failing_env_stage_gives_up_after_its_budget(give_up: float | None, calls: int) -> None:
    """No candidate passing and ``env_give_up_s`` spent: nothing more is sampled and the stage fails, saying why
    (tank_level, dev, spent 9 minutes on failing attempts). Without it, every candidate gets its repairs (2 x 3)."""
    broken = {"updates": [{"target": "position", "expr": "clip(position + drift, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, EnvSignature=[broken] * 6))
    settings = ProgramSettings(num_candidates=2, max_repairs=2, env_budget_s=0.0, env_give_up_s=give_up)
    pred = ALAMP(settings)(description=CORRIDOR_DESCRIPTION)
    assert pred.status == "env_failed" and lm.calls["EnvSignature"] == calls
    assert any("env_give_up_s" in note for note in pred.notes) is (give_up is not None)
    assert all(isinstance(a["elapsed_s"], float) for a in pred.attempts)


def test_the_current_value_of_what_the_actions_set_is_not_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The actions set ``push_next`` and the step reads ``push``: one quantity, named ``push`` by assembly. Asked for,
    ``u`` came back as ``u = torque_plus``, an action's indicator: wrong dynamics (pendulum_swingup, dev)."""
    monkeypatch.setattr("alamp.lm.adapter.constrains_expressions", lambda adapter=None: True)
    actions = [{"name": "left", "effect": "push_next = -1"}, {"name": "right", "effect": "push_next = 1"}]
    sar = {"sar": {**CORRIDOR["SARSignature"][0]["sar"], "actions": actions}}
    step = {"updates": [{"target": "position", "expr": "clip(position + push, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, SARSignature=[sar], EnvSignature=[step]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=0))(description=CORRIDOR_DESCRIPTION)
    assert lm.calls["EnvItemSignature"] == 0
    assert pred.status == "ok", pred.error
    assert [a.updates[0].target for a in pred.env_spec.actions] == ["push", "push"]


def test_a_function_an_update_calls_is_no_name_to_ask_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """``clamp(u - 0.1, 0, 1)`` (tank_level, dev) calls a function: nothing called ``clamp`` is asked for."""
    monkeypatch.setattr("alamp.lm.adapter.constrains_expressions", lambda adapter=None: True)
    calls = {"updates": [{"target": "position", "expr": "clamp(position, 0, 10)"}]}
    lm = _use(dict(CORRIDOR, EnvSignature=[calls]))
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=0))(description=CORRIDOR_DESCRIPTION)
    assert lm.calls["EnvItemSignature"] == 0
    assert pred.status == "ok", pred.error  # clamp is read as clip (alamp.spec.expr's aliases)
