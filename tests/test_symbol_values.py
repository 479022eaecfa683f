"""Symbols the text's formulas read but nothing defines: which are asked for, which answers are kept, and the flow."""

from __future__ import annotations

import dspy
import pytest
from fake_lm import ScriptedLM
from program_scripts import CORRIDOR, CORRIDOR_DESCRIPTION

from alamp.description import Description
from alamp.program import ALAMP, ProgramSettings
from alamp.schema import Parameter
from alamp.symbol_values import MAX_SYMBOLS_ASKED, is_math_symbol, symbol_constant, undefined_text_symbols
from alamp.tasks import load_tasks
from alamp.text_names import adopt_text_symbols

# Written for these tests (not a task's text): a constant in prose ("the sled weighs 2 kg") that the formulas call m.
SLED = (
    "A sled of mass m slides on ice; it weighs 2 kg and the rope pulls with F = 4 N to the left or right. Friction "
    "is c = 0.5. Every dt = 0.05 s: a = (F - c*v) / m, then v = v + dt*a and x = x + dt*v."
)


@pytest.fixture(autouse=True)
def _reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


def test_only_symbols_nothing_defines_are_asked_for_with_their_formulas() -> None:
    text = Description.read(SLED)
    asked = undefined_text_symbols(text, defined={"x", "v"})
    assert [symbol for symbol, _ in asked] == ["m"]  # F, c, dt are the text's constants; a, v, x are targets
    assert asked[0][1] == ["a = (F - c*v) / m"]
    assert undefined_text_symbols(text, defined={"x", "v", "m"}) == []


def test_at_most_a_few_symbols_are_asked_for() -> None:
    formulas = " ".join(f"y{i} = y{i} + k{i}*u{i}." for i in range(10))
    asked = undefined_text_symbols(Description.read(formulas), defined=set())
    assert len(asked) == MAX_SYMBOLS_ASKED


_CONSTANTS = [Parameter(name="sled_mass", value=2.0), Parameter(name="Friction", value=0.5)]


@pytest.mark.parametrize(
    ("pick", "chosen"),
    [("sled_mass", "sled_mass"), (" `sled_mass` ", "sled_mass"), ("SLED_MASS", "sled_mass"), ("friction", "Friction"),
     ("none", None), ("None", None), ("", None), ("gravity", None), ("2.0", None)],
)
def test_a_pick_is_read_as_one_of_the_constants_offered(pick: str, chosen: str | None) -> None:
    found = symbol_constant(pick, _CONSTANTS)
    assert (found.name if found else None) == chosen


def test_gold_outputs_of_train_and_dev_tasks_leave_no_symbol_to_ask_for() -> None:
    """A complete answer (the gold one, named as the program names it) triggers no call: the asks are for omissions."""
    for task in [*load_tasks("train"), *load_tasks("dev")]:
        gold, text = task.gold, Description.read(task.description)
        variables, _ = adopt_text_symbols(gold.variables, text=text, taken=[p.name for p in gold.parameters])
        defined = ALAMP._defined_names(text, {"variables": variables, "sar": gold.sar}, gold.parameters)
        assert undefined_text_symbols(text, defined=defined) == [], task.id


def _sled_script(pick: str) -> dict:
    sar = {"sar": {"observations": ["x", "v"], "reward": "-abs(x)",
                   "actions": [{"name": "pull_left", "effect": "F = -4"}, {"name": "pull_right", "effect": "F = 4"}]}}
    variables = {"variables": [{"name": "x", "role": "state", "initial": "0"},
                               {"name": "v", "role": "state", "initial": "0"}]}  # fmt: skip
    return dict(
        CORRIDOR,
        ParameterSignature=[{"parameters": [{"name": "c", "value": 0.5}, {"name": "dt", "value": 0.05},
                                            {"name": "sled_mass", "value": 2, "unit": "kg"}]}],
        VariableSignature=[variables],
        ConstraintSignature=[{"constraints": [{"expression": "abs(x) > 5", "kind": "termination"}]}],
        ModelingSignature=[{"mdp": {"states": ["x", "v"], "actions": ["pull_left", "pull_right"], "reward": "-abs(x)",
                                    "transitions": ["v_next = v + dt*a"], "horizon": 100}}],
        SARSignature=[sar],
        SymbolValueSignature=[{"answer": {"quantity": "mass of the sled", "which_constant": pick}}],
        EnvSignature=[{"updates": [{"target": "v", "expr": "v + dt*a"}, {"target": "x", "expr": "x + dt*v"}]}],
    )


def test_a_symbol_valued_in_prose_becomes_the_constant_picked_and_the_text_formula_is_used() -> None:
    lm = ScriptedLM(_sled_script("sled_mass"))
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pred = ALAMP(ProgramSettings(num_candidates=1))(description=SLED, name="sled")
    assert pred.status == "ok", pred.error
    assert lm.calls["SymbolValueSignature"] == 1
    assert {p.name: p.value for p in pred.parameters}["m"] == 2.0
    assert pred.env_spec.constants["m"] == 2.0
    assert any("symbol_value" in note and "it is sled_mass" in note and "m = 2" in note for note in pred.notes)
    prompt = next(user for name, user in lm.log if name == "SymbolValueSignature")
    assert "a = (F - c*v) / m" in prompt  # the formulas that read the symbol are shown
    assert "sled_mass" in prompt  # and the constants to pick from


@pytest.mark.parametrize("pick", ["none", "gravity"])
def test_no_constant_picked_leaves_the_symbol_undefined(pick: str) -> None:
    lm = ScriptedLM(_sled_script(pick))
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pred = ALAMP(ProgramSettings(num_candidates=1, max_repairs=0))(description=SLED, name="sled")
    assert "m" not in {p.name for p in pred.parameters}
    assert any("no constant found is it" in note and repr(pick) in note for note in pred.notes), pred.notes


def test_no_formulas_no_call() -> None:
    lm = ScriptedLM(CORRIDOR)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    ALAMP(ProgramSettings(num_candidates=1))(description=CORRIDOR_DESCRIPTION)
    assert lm.calls["SymbolValueSignature"] == 0


@pytest.mark.parametrize(
    ("name", "symbol"),
    [("m", True), ("Cd", True), ("T_out", True), ("tau", True), ("omega_0", True), ("catch", False),
     ("inflow", False), ("servers", False), ("_x", False)],
)
def test_only_mathematical_symbols_are_asked_for(name: str, symbol: bool) -> None:
    assert is_math_symbol(name) is symbol


def test_a_train_tasks_symbol_demo_asks_the_question_and_picks_the_gold_constant() -> None:
    from alamp.optimizers.demos import gold_record

    items = [(t.id, gold_record(t)) for t in load_tasks("train")]
    task_id, item = next((tid, item) for tid, item in items if "question" in item)
    pick = item["answer"].which_constant
    assert f"`{pick}`" in item["question"], task_id  # the gold parameter is named by the symbol asked about
    assert any(line.startswith(f"{pick} = ") for line in item["known_constants"]), task_id
    assert all(pick in formula for formula in item["formulas"]), task_id
