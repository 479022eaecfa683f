"""The Parameter agent's answer against the numbers the text states (``alamp.parameter_check``)."""

from __future__ import annotations

import dspy
import pytest
from fake_lm import ScriptedLM
from test_text_step import _TANK

from alamp.description import Description
from alamp.parameter_check import MIN_COVERAGE, number_coverage, numbers_in_text
from alamp.program import ALAMP, ProgramSettings
from alamp.schema import Parameter
from alamp.tasks import load_tasks

_TRAIN_DEV = [t for t in load_tasks() if t.split in ("train", "dev")]


def test_the_numbers_a_text_states() -> None:
    assert numbers_in_text("gravity 9.8, mass 1.0 kg, x_2 = 3, T_in2 and -10 N; 0 and 1 are counts") == {9.8, 3, 10}


@pytest.mark.parametrize("task", _TRAIN_DEV, ids=lambda t: t.id)
def test_gold_parameters_never_trigger_the_resample(task) -> None:
    # Counted on the user's own words: the map cells alamp lists under frozen_lake_8x8's drawing are no constants.
    assert number_coverage(task.gold.parameters, Description.read(task.description).own_text) >= MIN_COVERAGE


_TEXT = ("A tank of 100 litres loses 3 litres a step; the inflow is 0 or 6 litres; the target level is 50, the "
         "penalty 2.5 per litre of error and each episode 40 steps. It has two actions, in this order: close, open.")


def _run(answers: list[list[dict]]) -> tuple[ScriptedLM, object]:
    lm = ScriptedLM({**_TANK, "ParameterSignature": [{"parameters": a} for a in answers]})
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    return lm, ALAMP(ProgramSettings(stage_retries=1))(description=_TEXT, name="tank")


def test_an_answer_missing_most_numbers_is_sampled_again_and_the_better_kept() -> None:
    poor = [{"name": "target", "value": 50}]
    full = [{"name": n, "value": v} for n, v in (("capacity", 100), ("leak", 3), ("inflow", 6), ("target", 50),
                                                  ("penalty", 2.5), ("horizon", 40))]  # fmt: skip
    lm, pred = _run([poor, full])
    assert lm.calls["ParameterSignature"] == 2
    assert {p.name for p in pred.parameters} == {"capacity", "leak", "inflow", "target", "penalty", "horizon"}
    assert any("sampled again" in n for n in pred.notes) and any("kept the resample" in n for n in pred.notes)


def test_a_covering_answer_is_not_sampled_again() -> None:
    lm, pred = _run([[{"name": n, "value": v} for n, v in (("capacity", 100), ("leak", 3), ("inflow", 6),
                                                              ("target", 50))]])  # fmt: skip
    assert lm.calls["ParameterSignature"] == 1 and not any("sampled again" in n for n in pred.notes)


def test_coverage_counts_list_values() -> None:
    assert number_coverage([Parameter(name="xs", value=[9.8, [3.0]])], "g 9.8 and 3 and 7") == pytest.approx(2 / 3)
