"""Constrained decoding: grammars built from each agent's output type and from a name set (``alamp.lm.grammar``)."""

from __future__ import annotations

import dspy
import pytest
from gbnf import Grammar

from alamp.lm.adapter import EXPRESSION_NAMES_KEY, ForgivingChatAdapter, constrains_expressions
from alamp.lm.grammar import expression_rules, signature_grammar
from alamp.optimizers.demos import _MISSING, DEFAULT_FIELD_SOURCES, gold_record, resolve_path
from alamp.program import ALAMP, SingleModelBaseline
from alamp.signatures import CodingSignature, EnvSignature, RepairSignature
from alamp.tasks import load_tasks

pytest.importorskip("llama_cpp", reason="the JSON-schema -> GBNF converter ships with alamp[local]")

_TRAIN_DEV = [t for t in load_tasks() if t.split in ("train", "dev")]
_ADAPTER = ForgivingChatAdapter()


def _update_answer(expr: str, target: str = "x") -> str:
    """The Env agent's answer holding one update, as the chat adapter writes it."""
    return f'[[ ## updates ## ]]\n[{{"target": "{target}", "expr": "{expr}"}}]\n\n[[ ## completed ## ]]'


def _answer(signature: type[dspy.Signature], outputs: dict) -> str:
    """An answer exactly as the chat adapter writes (and parses) it."""
    return _ADAPTER.format_assistant_message_content(signature, outputs)


@pytest.mark.parametrize("task", _TRAIN_DEV, ids=lambda t: t.id)
def test_every_agents_grammar_admits_its_gold_answer(task) -> None:
    record = gold_record(task)
    for name, predictor in [*ALAMP().named_predictors(), *SingleModelBaseline().named_predictors()]:
        signature = predictor.signature
        grammar = signature_grammar(signature)
        if name in ("coding", "repair", "single_model_code"):
            assert grammar is None, f"{name} writes free text (code): it must stay unconstrained"
            continue
        assert grammar is not None, name
        outputs = {f: resolve_path(record, DEFAULT_FIELD_SOURCES.get(f, f)) for f in signature.output_fields}
        if any(v is _MISSING for v in outputs.values()):
            continue  # no gold answer for this agent in this task (e.g. no symbol the text values only in prose)
        if any(not hasattr(v, "__len__") and v is None for v in outputs.values()):
            continue
        if name == "single_model":
            outputs = {f: resolve_path(record, {"updates": "env_spec.updates"}.get(f, f)) for f in outputs}
        assert Grammar(grammar).admits(_answer(signature, outputs)), f"{task.id}: {name}'s gold answer refused"


def test_the_grammar_refuses_answers_of_the_wrong_shape() -> None:
    grammar = Grammar(signature_grammar(EnvSignature))
    good = '[[ ## updates ## ]]\n[{"target": "x", "expr": "x + 1"}]\n\n[[ ## completed ## ]]'
    assert grammar.admits(good)
    assert not grammar.admits(good.replace('"target": "x"', '"target": "x y"')), "a target must be an identifier"
    assert not grammar.admits(good.replace("[{", "{").replace("}]", "}")), "a list is required"
    assert not grammar.admits(good.replace("[[ ## completed ## ]]", "")), "the answer must end"
    assert not grammar.admits("Here are the updates:\n" + good), "no prose before the first field"


def test_expressions_read_only_the_given_names() -> None:
    grammar = Grammar(signature_grammar(EnvSignature, names=["x", "x_dot", "tau", "F"]))

    answer = _update_answer

    for allowed in (
        "x + tau * x_dot",
        "clip(x_dot + F, -1, 1)",
        "-x**2 / (1 + abs(F))",
        "where(x > 0, 1, 0)",
        "2.5e-3",
        "if x > 0 then tau else F",  # assembly rewrites it (if_then_else_as_conditional)
    ):
        assert grammar.admits(answer(allowed)), allowed
    glued = "ifx > 0 thentau else F"  # keywords run into names (frozen_lake, dev): no name is "ifx" or "thentau"
    for refused in (glued, "x + tau * x_ddot", "xx + 1", "gravity * x", "os.system(1)", "x +", "__import__(x)", "x; y"):
        assert not grammar.admits(answer(refused)), refused


def test_expression_rules_list_names_longest_first() -> None:
    rules = expression_rules(["x", "x_dot", "x_dot_dot"], ["sin"])
    line = next(r for r in rules.splitlines() if r.startswith("expr-name"))
    assert line.index('"x_dot_dot"') < line.index('"x_dot"') < line.index('"x"')
    assert 'expr-function ::= "sin"' in rules


def test_free_text_outputs_are_left_unconstrained() -> None:
    assert signature_grammar(CodingSignature) is None and signature_grammar(RepairSignature) is None


class _RecordingLM(dspy.LM):
    """Records the request kwargs the adapter sends; answers with a fixed valid reply."""

    def __init__(self, reply: str) -> None:
        super().__init__("openai/recorder", cache=False, extra_body={"repeat_penalty": 1.1})
        self.reply, self.requests = reply, []

    def forward(self, prompt=None, messages=None, **kwargs):  # noqa: ANN001, ANN201
        from litellm import ModelResponse

        self.requests.append(kwargs)
        return ModelResponse(choices=[{"message": {"role": "assistant", "content": self.reply}}], model="recorder")


def test_the_adapter_sends_the_grammar_merged_with_the_lms_body_and_drops_the_names_key() -> None:
    reply = '[[ ## updates ## ]]\n[{"target": "x", "expr": "x + 1"}]\n\n[[ ## completed ## ]]'
    lm = _RecordingLM(reply)
    adapter = ForgivingChatAdapter(grammar_field="grammar")
    assert constrains_expressions(adapter) and not constrains_expressions(ForgivingChatAdapter())
    predictor = dspy.Predict(EnvSignature)
    with dspy.context(lm=lm, adapter=adapter):
        predictor(description="d", constants=[], state=[], actions=[], transitions=[], feedback="",
                  config={EXPRESSION_NAMES_KEY: ["x"]})  # fmt: skip
    sent = lm.requests[-1]
    assert EXPRESSION_NAMES_KEY not in sent
    assert sent["extra_body"]["repeat_penalty"] == 1.1, "the LM's own body fields survive"
    assert 'expr-name ::= "x"' in sent["extra_body"]["grammar"]


def test_without_a_grammar_field_nothing_is_added() -> None:
    reply = '[[ ## updates ## ]]\n[{"target": "x", "expr": "x + 1"}]\n\n[[ ## completed ## ]]'
    lm = _RecordingLM(reply)
    with dspy.context(lm=lm, adapter=ForgivingChatAdapter()):
        dspy.Predict(EnvSignature)(description="d", constants=[], state=[], actions=[], transitions=[], feedback="",
                                   config={EXPRESSION_NAMES_KEY: ["x"]})  # fmt: skip
    assert "grammar" not in (lm.requests[-1].get("extra_body") or {})
    assert EXPRESSION_NAMES_KEY not in lm.requests[-1]


def test_lists_are_bounded_so_a_looping_answer_ends() -> None:
    from alamp.lm.grammar import MAX_LIST_ITEMS

    grammar = Grammar(signature_grammar(EnvSignature))

    def answer(n: int) -> str:
        items = ", ".join('{"target": "x", "expr": "1"}' for _ in range(n))
        return f"[[ ## updates ## ]]\n[{items}]\n\n[[ ## completed ## ]]"

    assert grammar.admits(answer(MAX_LIST_ITEMS)) and not grammar.admits(answer(MAX_LIST_ITEMS + 1))


def test_a_symbol_is_one_of_the_constants_offered_or_none() -> None:
    from alamp.signatures import SymbolValueSignature

    def answer(pick: str) -> str:
        answer = f'{{"quantity": "mass of the carriage", "which_constant": "{pick}"}}'
        return f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"

    narrowed = Grammar(signature_grammar(SymbolValueSignature, names=["carriage_mass", "mass_ratio", "none"]))
    assert narrowed.admits(answer("carriage_mass")) and narrowed.admits(answer("none"))
    for refused in ("mass", "carriage_mass_2", "2.0", "gravity", "carriage_mass + 1"):
        assert not narrowed.admits(answer(refused)), refused
    free = Grammar(signature_grammar(SymbolValueSignature))  # no names: any identifier, never a number
    assert free.admits(answer("gravity")) and not free.admits(answer("2.0"))
    pick_first = answer("carriage_mass").replace('"quantity": "mass of the carriage", ', "")
    assert not narrowed.admits(pick_first.replace("}", ', "quantity": "mass of the carriage"}')), "what it is, first"


def test_spec_text_holds_no_string_literal() -> None:
    """An action's effect is an assignment of the spec language: ``move = 'no_measures'`` (the SAR agent's answer on
    epidemic_control, dev) cannot be decoded."""
    from alamp.signatures import SARSignature

    grammar = Grammar(signature_grammar(SARSignature))

    def answer(effect: str) -> str:
        sar = {"observations": ["S"], "actions": [{"name": "none", "effect": effect}], "reward": "-S"}
        return _answer(SARSignature, {"sar": sar})

    assert grammar.admits(answer("move = 0; cost = cost_none"))
    assert not grammar.admits(answer("move = 'no_measures'"))
    assert not grammar.admits(answer('move = "no_measures"'))


def test_spec_text_is_the_spec_languages_syntax() -> None:
    """Spec text of the upstream agents (the SAR reward and effects, start values) is decoded under the spec language's
    syntax: the SAR reward ``goal_reward if (row, col) == (goal_row, goal_col) else 0`` (frozen_lake_slippery, dev)
    compared tuples, which the compiler refuses and no Env answer could repair."""
    from alamp.signatures import SARSignature, VariableSignature

    sar_grammar = Grammar(signature_grammar(SARSignature))

    def sar_answer(reward: str, effect: str = "move = 0") -> str:
        sar = {"observations": ["row"], "actions": [{"name": "left", "effect": effect}], "reward": reward}
        return _answer(SARSignature, {"sar": sar})

    assert sar_grammar.admits(sar_answer("goal_reward if row == goal_row and col == goal_col else 0"))
    assert sar_grammar.admits(sar_answer("-(c * n + where(x > 0, 1, 0))"))
    assert not sar_grammar.admits(sar_answer("goal_reward if (row, col) == (goal_row, goal_col) else 0"))
    assert not sar_grammar.admits(sar_answer("the reward is 1 at the goal"))
    for effect in ("dr = -1; dc = 0", "y += 1, x = x - 1", "force = -force_mag"):
        assert sar_grammar.admits(sar_answer("1", effect)), effect
    for effect in ("move left", "if left: move = 1", "move = left cell", ""):
        assert not sar_grammar.admits(sar_answer("1", effect)), effect

    variable_grammar = Grammar(signature_grammar(VariableSignature))

    def variable_answer(initial: str) -> str:
        variable = {
            "name": "h",
            "role": "state",
            "domain": "continuous",
            "low": 0,
            "high": 400,
            "initial": initial,
            "description": "",
            "symbol": "h",
        }
        return _answer(VariableSignature, {"variables": [variable], "variable_notes": []})

    for initial in ("uniform(150, 250)", "", "initial_fuel", "0"):
        assert variable_grammar.admits(variable_answer(initial)), initial
    assert not variable_grammar.admits(variable_answer("between 150 and 250"))


def test_a_free_step_is_written_as_expressions() -> None:
    """Without a name set the Env agent may read any name, but only in expressions or conditional statements (next
    test): no assignment, no unknown function, no half-written statement."""
    grammar = Grammar(signature_grammar(EnvSignature))

    def answer(expr: str) -> str:
        return _update_answer(expr, "row")

    assert grammar.admits(answer("max(row - 1, 0) if move == 0 else row"))
    assert grammar.admits(answer("a if c else b if d else e"))
    assert not grammar.admits(answer("if move == left row = max(row - 1, 0)"))
    assert not grammar.admits(answer("row = row + 1"))
    assert not grammar.admits(answer("unknown_function(row)"))


def test_a_free_step_may_be_written_by_cases() -> None:
    """The conditional statement the model writes (frozen_lake_slippery, dev) is admitted in its usual spellings; the
    ``conditional_statement_as_updates`` pass turns it into expressions."""
    grammar = Grammar(signature_grammar(EnvSignature))

    def answer(expr: str) -> str:
        return _update_answer(expr, "row")

    for written in (
        "if move == left: row = max(row - 1, 0) else if move == down: col = min(col + 1, grid_size - 1)",
        "if move == left: row = max(row - 1, 0) elif move == right: row = row + 1 else row",
        "if a > 0: x = 1; y = 2 else: x = 0",
    ):
        assert grammar.admits(answer(written)), written
    assert not grammar.admits(answer("if move == left: row")), "a case assigns"
