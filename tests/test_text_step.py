"""The step as the text writes it (``alamp.text_step``): read from train/dev texts, and as a program candidate."""

from __future__ import annotations

import dspy
from fake_lm import ScriptedLM

from alamp.description import Description, TextFunction, formula_statements, functions_in_text
from alamp.program import ALAMP, ProgramSettings, SingleModelBaseline
from alamp.schema import Assignment
from alamp.tasks import load_tasks
from alamp.text_step import TextStep, read_text_step, with_text_step

_TASKS = {t.id: t for t in load_tasks()}


def _step(task_id: str) -> TextStep:
    return Description.read(_TASKS[task_id].description).step


def test_update_lines_and_draws_are_read_from_the_text() -> None:
    thermostat = _step("thermostat")
    assert [(u.target, u.expr) for u in thermostat.updates] == [
        ("T_in", "T_in + 0.1*(T_out - T_in) + 1.5*P + eta"),
        ("T_out", "T_out + w"),
    ]
    assert thermostat.draws == {"eta": "normal(0, 0.1)", "w": "normal(0, 0.5)"}
    # "next_load = 0.8*load + ..." updates load; "storage = min(storage + ...)" updates storage.
    assert [u.target for u in _step("server_autoscaling").updates] == ["load"]
    assert [u.target for u in _step("reservoir").updates] == ["storage"]
    # Definitions are not updates: "new_infections = beta*S*I" defines, "S = S - new_infections" updates.
    assert [u.target for u in _step("epidemic_control").updates] == ["S", "I"]


def test_primed_lines_and_the_texts_own_functions_are_read() -> None:
    # pendulum_swingup (dev): "theta_dot' = clip(...)", "theta' = wrap(theta + theta_dot' * dt)" with
    # "wrap(x) = ((x + pi) mod 2*pi) - pi" defined on the same line: no update was read before.
    text = Description.read(_TASKS["pendulum_swingup"].description)
    assert [(u.target, u.expr) for u in text.step.updates] == [
        ("theta_dot", "clip(theta_dot + (3*g/(2*l) * sin(theta) + 3/(m*l**2) * u) * dt, -8, 8)"),
        ("theta", "(theta + theta_dot_next * dt + pi) % (2 * pi) - pi"),
    ]
    assert functions_in_text("wrap(x) = ((x + pi) % (2*pi)) - pi") == {
        "wrap": TextFunction(params=("x",), body="((x + pi) % (2*pi)) - pi")
    }
    two = "sat(v, a) = max(-a, min(a, v)). Then s = sat(s + 3, s_max), y = sin(y), z = other(z)"
    assert [(t, f) for t, f, _ in formula_statements(two)] == [("s", "max(-s_max, min(s_max, s + 3))"),
                                                              ("y", "sin(y)")]  # fmt: skip


def test_prose_only_texts_state_no_step() -> None:
    for task_id in ("cliff_walking", "queue_admission", "machine_replacement"):
        assert read_text_step(Description.read(_TASKS[task_id].description).text) == TextStep()


def test_the_candidate_takes_the_texts_lines_and_keeps_the_rest() -> None:
    answer = [Assignment(target="P", expr="action"), Assignment(target="T_in", expr="uniform(15, 20)")]
    candidate = with_text_step(answer, step=_step("thermostat"), state=["T_in", "T_out"], defined=["P"])
    assert candidate is not None
    assert [(u.target, u.expr) for u in candidate] == [
        ("eta", "normal(0, 0.1)"), ("w", "normal(0, 0.5)"), ("P", "action"),
        ("T_in", "T_in + 0.1*(T_out - T_in) + 1.5*P + eta"), ("T_out", "T_out + w"),
    ]  # fmt: skip
    # A draw the agents declared (an exogenous variable) is not drawn twice.
    declared = with_text_step(answer, step=_step("thermostat"), state=["T_in", "T_out"], defined=["P", "eta", "w"])
    assert declared is not None and [u.target for u in declared][:1] == ["P"]


def test_the_agents_next_value_lines_for_a_replaced_state_go() -> None:
    # epidemic_control (dev): the agent wrote S_next / I_next lines; the text's S and I lines replace them.
    answer = [Assignment(target="new_infections", expr="beta * S * I"),
              Assignment(target="S_next", expr="S - new_infections"), Assignment(target="next_I", expr="I * 2"),
              Assignment(target="cost", expr="0.1")]  # fmt: skip
    candidate = with_text_step(answer, step=_step("epidemic_control"), state=["S", "I"], defined=["beta"])
    assert candidate is not None
    assert [u.target for u in candidate] == ["new_infections", "cost", "S", "I"]


def test_no_candidate_when_the_text_updates_no_state_or_the_answer_already_is_it() -> None:
    step = _step("thermostat")
    assert with_text_step([], step=step, state=["indoor_temp"], defined=[]) is None
    same = [Assignment(target="T_in", expr="T_in + 0.1*(T_out - T_in) + 1.5*P + eta"),
            Assignment(target="T_out", expr="T_out + w")]  # fmt: skip
    assert with_text_step(same, step=step, state=["T_in", "T_out"], defined=["eta", "w", "P"]) is None


_TANK_TEXT = (
    "A tank holds h litres, starting uniformly in [20, 40]. Each step h = clip(h + q - 3, 0, 100), where q is the "
    "inflow the controller chooses: 0 or 6. The controller observes one number, in this order: h. It has two "
    "actions, in this order: close, open. The reward is -abs(h - 50) per step, and an episode lasts 50 steps."
)
_TANK = {
    "ParameterSignature": [{"parameters": [{"name": "target", "value": 50}]}],
    "ObjectiveSignature": [{"objectives": [{"name": "level", "sense": "max", "expression": "-abs(h - target)"}]}],
    "VariableSignature": [{"variables": [
        {"name": "h", "role": "state", "low": 0, "high": 100, "initial": "uniform(20, 40)"},
        {"name": "q", "role": "action", "low": 0, "high": 6},
    ]}],
    "ConstraintSignature": [{"constraints": []}],
    "ModelingSignature": [{"mdp": {"states": ["h"], "actions": ["close", "open"], "transitions": [],
                                   "reward": "-abs(h - target)", "horizon": 50, "termination": []}}],
    "SARSignature": [{"sar": {"observations": ["h"],
                              "actions": [{"name": "close", "effect": "q = 0"}, {"name": "open", "effect": "q = 6"}],
                              "reward": "-abs(h - target)"}}],
    # The agent's step passes every check but drains twice as fast as the text says.
    "EnvSignature": [{"updates": [{"target": "h", "expr": "clip(h + q - 6, 0, 100)"}]}],
}  # fmt: skip


def test_the_text_form_is_chosen_ahead_of_the_agents_answers() -> None:
    lm = ScriptedLM(_TANK)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=0))(description=_TANK_TEXT, name="tank")
    assert pred.env_passed and lm.calls["EnvSignature"] == 1
    assert [(u.target, u.expr) for u in pred.updates] == [("h", "clip(h + q - 3, 0, 100)")]
    assert pred.consensus["chosen"] == "0t" and pred.consensus["pool"] == "text lines"
    assert [a.get("form") for a in pred.attempts] == ["text", None]


def test_agreeing_agent_answers_do_not_outvote_the_texts_lines() -> None:
    # positioning_stage (dev): three Env answers copied the Modeling agent's wrong transition and agreed with each
    # other; the one candidate with the text's lines (the reference's dynamics) was outvoted 3 to 1.
    lm = ScriptedLM(_TANK)  # the same wrong answer every time
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pred = ALAMP(ProgramSettings(num_candidates=3, max_repairs=0, env_budget_s=None))(description=_TANK_TEXT,
                                                                                      name="tank")  # fmt: skip
    assert lm.calls["EnvSignature"] == 3  # not decided early: the agent's answers were never the pool
    assert pred.consensus["chosen"] == "0t" and pred.consensus["members"] == [["0t"]]
    assert [(u.target, u.expr) for u in pred.updates] == [("h", "clip(h + q - 3, 0, 100)")]


def test_the_baseline_gets_the_text_form_too() -> None:
    whole = {key: value for answers in _TANK.values() for key, value in answers[0].items()}
    lm = ScriptedLM({"SingleModelSignature": [whole]})
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pred = SingleModelBaseline(ProgramSettings(num_candidates=1))(description=_TANK_TEXT, name="tank")
    assert pred.env_passed and pred.consensus["chosen"] == "0t"
    assert [(u.target, u.expr) for u in pred.updates] == [("h", "clip(h + q - 3, 0, 100)")]
