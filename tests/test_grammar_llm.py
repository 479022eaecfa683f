"""Constrained decoding on the real embedded model (``@pytest.mark.llm``): names outside the set cannot appear."""

from __future__ import annotations

import ast

import dspy
import pytest

from alamp.description import Description
from alamp.lm.adapter import EXPRESSION_NAMES_KEY, ForgivingChatAdapter
from alamp.schema import Variable
from alamp.signatures import EnvItemSignature
from alamp.spec.expr import FUNCTIONS
from alamp.tasks import load_tasks

pytestmark = [pytest.mark.llm]


def test_an_expression_reads_only_the_names_it_is_given(local_lm: dspy.LM) -> None:
    # thermostat (a train task). The variables carry descriptive names the model would copy; the grammar offers only
    # the text's symbols, so no descriptive name can appear however the model is sampled.
    task = next(t for t in load_tasks() if t.id == "thermostat")
    text = Description.read(task.description)
    state = [Variable(name="indoor_temp", role="state"), Variable(name="outdoor_temp", role="state"),
             Variable(name="power", role="action"), Variable(name="room_noise", role="exogenous")]  # fmt: skip
    allowed = ["T_in", "T_out", "P", "eta"]
    adapter = ForgivingChatAdapter(grammar_field="grammar")
    predictor = dspy.Predict(EnvItemSignature)
    for sample in range(3):
        config = {EXPRESSION_NAMES_KEY: allowed, "temperature": 1.0, "rollout_id": 9000 + sample}
        with dspy.context(lm=local_lm, adapter=adapter):
            expr = predictor(description=text.text, constants=[], state=state, actions=[], step_so_far=[],
                             target="T_in", config=config).assignment.expr  # fmt: skip
        read = {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}
        assert read <= set(allowed) | set(FUNCTIONS), f"sample {sample}: {expr!r} reads {read - set(allowed)}"


def test_llama_cpp_accepts_every_agents_grammar(local_lm: dspy.LM) -> None:
    """llama.cpp parses each agent's grammar (a grammar it refuses crashed the server: the first spec-text rules used
    an underscore in a rule name). One short greedy answer each, with the grammar sent as the adapter sends it."""
    import json
    import urllib.request

    from alamp.lm.grammar import signature_grammar
    from alamp.program import ALAMP, SingleModelBaseline

    base = local_lm.kwargs.get("api_base") or local_lm.kwargs.get("base_url")
    assert base, "the local LM has no api_base"
    for name, predictor in [*ALAMP().named_predictors(), *SingleModelBaseline().named_predictors()]:
        grammar = signature_grammar(predictor.signature)
        if grammar is None:
            continue
        body = {"messages": [{"role": "user", "content": "Answer."}], "max_tokens": 4, "grammar": grammar}
        request = urllib.request.Request(
            f"{base.rstrip('/')}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:  # an HTTP error raises: the grammar is refused
            assert response.status == 200, name
