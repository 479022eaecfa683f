"""Choosing among environment candidates by agreement of behaviour (``alamp.consensus``), alone and in the program."""

from __future__ import annotations

import dspy
import pytest
from fake_lm import ScriptedLM
from program_scripts import CARTPOLE, CARTPOLE_DESCRIPTION

from alamp.consensus import agree, behaviour, choose
from alamp.program import ALAMP, ProgramSettings
from alamp.spec import compile_spec
from alamp.spec.examples import cartpole_spec

pytestmark = pytest.mark.filterwarnings("ignore")


def _spec_factory(**constant_overrides: float):
    spec = cartpole_spec()
    spec = spec.model_copy(update={"constants": {**spec.constants, **constant_overrides}})
    return compile_spec(spec).make_env


def test_the_same_dynamics_agree_and_other_dynamics_do_not() -> None:
    exact = behaviour(_spec_factory())
    assert agree(exact, behaviour(_spec_factory()))
    assert not agree(exact, behaviour(_spec_factory(gravity=9.0)))


def test_two_agreeing_candidates_beat_one_different_even_when_it_came_first() -> None:
    different, same_a, same_b = (behaviour(_spec_factory(gravity=9.0)), behaviour(_spec_factory()),
                                 behaviour(_spec_factory()))  # fmt: skip
    consensus = choose([different, same_a, same_b])
    assert consensus.sizes == [2, 1] and consensus.chosen == 1
    record = consensus.as_record(labels=[4, 5, 6])
    assert record == {"groups": [2, 1], "members": [[5, 6], [4]], "chosen": 5, "agreement": 0.667}


def test_a_tie_goes_to_the_earlier_candidate() -> None:
    consensus = choose([behaviour(_spec_factory(gravity=9.0)), behaviour(_spec_factory())])
    assert consensus.sizes == [1, 1] and consensus.chosen == 0 and consensus.agreement == 0.5


def test_choose_needs_a_candidate() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        choose([])


# Env answers: the exact step, and one whose pole falls with doubled gravity (it passes every check all the same).
_EXACT = CARTPOLE["EnvSignature"][0]
_HEAVY = {"updates": [
    {**u, "expr": u["expr"].replace("gravity *", "2 * gravity *")} for u in _EXACT["updates"]
]}  # fmt: skip
_UNDEFINED = {"updates": [{"target": "x", "expr": "x + tau * x_dot_typo"}]}


def _run(env_answers: list[dict], *, candidates: int, repairs: int = 0):
    lm = ScriptedLM({**CARTPOLE, "EnvSignature": env_answers})
    dspy.configure(lm=lm)
    settings = ProgramSettings(num_candidates=candidates, max_repairs=repairs)
    return lm, ALAMP(settings)(description=CARTPOLE_DESCRIPTION, name="cartpole")


def test_the_program_takes_the_largest_agreeing_group_not_the_first_pass() -> None:
    lm, pred = _run([_HEAVY, _EXACT, _EXACT], candidates=3)
    assert pred.env_passed and lm.calls["EnvSignature"] == 3
    expected = {"groups": [2, 1], "members": [[1, 2], [0]], "chosen": 1, "agreement": 0.667, "pool": "all"}
    assert pred.consensus == expected
    assert "2 * gravity" not in str(pred.updates)


def test_a_failing_candidate_never_wins() -> None:
    # Two identical candidates that fail the checks, one that passes: the passing one is chosen.
    lm, pred = _run([_UNDEFINED, _UNDEFINED, _HEAVY], candidates=3)
    assert pred.env_passed and pred.consensus["chosen"] == 2 and pred.consensus["groups"] == [1]
    assert [a["passed"] for a in pred.attempts] == [False, False, True]
    assert pred.attempts[0]["spec"] is not None, "each attempt keeps its assembled spec"


def test_sampling_stops_once_later_candidates_cannot_change_the_winner() -> None:
    lm, pred = _run([_EXACT, _EXACT, _HEAVY, _HEAVY, _HEAVY], candidates=5)
    # After two agreeing passes, three more samples could still outvote them (and here they do).
    assert lm.calls["EnvSignature"] == 5 and pred.consensus["groups"] == [3, 2] and pred.consensus["chosen"] == 2
    lm, pred = _run([_EXACT, _EXACT, _EXACT, _HEAVY, _HEAVY], candidates=5)
    assert lm.calls["EnvSignature"] == 3 and pred.consensus["groups"] == [3]


def test_one_candidate_records_full_agreement() -> None:
    _, pred = _run([_EXACT], candidates=1)
    assert pred.consensus == {"groups": [1], "members": [[0]], "chosen": 0, "agreement": 1.0, "pool": "all"}


def test_nothing_passing_records_no_consensus() -> None:
    _, pred = _run([_UNDEFINED], candidates=2)
    assert not pred.env_passed and pred.consensus is None and pred.status == "env_failed"


def test_a_name_read_but_never_defined_is_asked_for_under_the_names_defined_so_far() -> None:
    from alamp.lm.adapter import ForgivingChatAdapter

    updates = [dict(u) for u in _EXACT["updates"]]
    x_dot = next(u for u in updates if u["target"] == "x_dot")
    x_dot["expr"] = "x_dot + tau * x_acceleration"  # nothing defines x_acceleration
    lm = ScriptedLM({**CARTPOLE, "EnvSignature": [{"updates": updates}],
                     "EnvItemSignature": [{"assignment": {"target": "x_acceleration", "expr": "xacc"}}]})
    dspy.configure(lm=lm, adapter=ForgivingChatAdapter(grammar_field="grammar"))
    pred = ALAMP(ProgramSettings(max_repairs=0))(description=CARTPOLE_DESCRIPTION, name="cartpole")
    assert lm.calls["EnvItemSignature"] == 1 and pred.env_passed
    targets = [u.target for u in pred.updates]
    # The reader stays as written; the missing name is defined just before it.
    assert targets.index("x_acceleration") == targets.index("x_dot") - 1
    assert any(u.target == "x_dot" and u.expr == "x_dot + tau * x_acceleration" for u in pred.updates)
    item_prompt = next(user for name, user in lm.log if name == "EnvItemSignature")
    assert "xacc = temp" in item_prompt, "the item sees the step computed before it"
    assert "x_acceleration" in " ".join(pred.attempts[0]["items"])
    # The grammar sent with the item reads only names defined at that point: xacc yes, x_acceleration no.
    grammar = lm.history[-1]["kwargs"]["extra_body"]["grammar"]
    names_line = next(line for line in grammar.splitlines() if line.startswith("expr-name"))
    assert '"xacc"' in names_line and '"x_acceleration"' not in names_line


def test_without_constrained_decoding_no_item_is_asked_again() -> None:
    updates = [dict(u) for u in _EXACT["updates"]]
    next(u for u in updates if u["target"] == "x_dot")["expr"] = "x_dot + tau * x_acceleration"
    lm = ScriptedLM({**CARTPOLE, "EnvSignature": [{"updates": updates}]})
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pred = ALAMP(ProgramSettings(max_repairs=0))(description=CARTPOLE_DESCRIPTION, name="cartpole")
    assert lm.calls["EnvItemSignature"] == 0 and not pred.env_passed and "x_acceleration" in pred.error


def test_an_answer_with_many_undefined_reads_goes_back_to_the_agent_not_item_by_item() -> None:
    from alamp.lm.adapter import ForgivingChatAdapter

    updates = [dict(u) for u in _EXACT["updates"]]
    for i, update in enumerate(updates[-4:]):
        update["expr"] += f" + nothing_defines_this_{i}"
    lm = ScriptedLM({**CARTPOLE, "EnvSignature": [{"updates": updates}], "EnvItemSignature": [_EXACT]})
    dspy.configure(lm=lm, adapter=ForgivingChatAdapter(grammar_field="grammar"))
    pred = ALAMP(ProgramSettings(max_repairs=0))(description=CARTPOLE_DESCRIPTION, name="cartpole")
    assert lm.calls["EnvItemSignature"] == 0 and not pred.env_passed
    assert "4 names are read but never defined" in pred.attempts[0]["items"][0]
