"""Integration tests on the real embedded model (``-m llm``; the server starts once per session)."""

from __future__ import annotations

import json
import urllib.request

import dspy
import pytest

from alamp.lm import get_local_server, load_lm_config
from alamp.schema import Parameter

pytestmark = [pytest.mark.llm, pytest.mark.slow]

CARTPOLE = (
    "A pole of length 0.5 m is attached by an un-actuated joint to a cart of mass 1.0 kg, which moves along a "
    "frictionless track. The pole has a mass of 0.1 kg and gravity is 9.8 m/s^2. At each step the controller "
    "pushes the cart to the left or to the right with a force of 10 N."
)
STATED_VALUES = [0.5, 1.0, 0.1, 9.8, 10.0]


class ExtractParameters(dspy.Signature):
    """Extract every fixed numeric constant stated in the problem description."""

    description: str = dspy.InputField()
    parameters: list[Parameter] = dspy.OutputField(desc="one entry per numeric constant stated in the text")


def test_the_server_serves_the_embedded_model_and_answers(local_lm: dspy.LM) -> None:
    server = get_local_server(load_lm_config(["lm=local", "lm.cache=false"]))
    assert local_lm.kwargs["api_base"] == server.base_url
    with urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as response:
        served = [m["id"] for m in json.loads(response.read())["data"]]
    assert served == [local_lm.model.partition("/")[2]]
    answer = local_lm("What is 2 + 3? Reply with the number only.")[0]
    assert "5" in answer


def test_typed_extraction_of_cartpole_parameters(local_lm: dspy.LM) -> None:
    with dspy.context(lm=local_lm, adapter=dspy.ChatAdapter()):
        result = dspy.Predict(ExtractParameters)(description=CARTPOLE)
    assert isinstance(result.parameters, list) and result.parameters
    for parameter in result.parameters:
        assert isinstance(parameter, Parameter)
        assert Parameter.model_validate(parameter.model_dump()) == parameter  # schema-valid
    values = [p.value for p in result.parameters if isinstance(p.value, float)]  # a list value is a coordinate
    missing = [v for v in STATED_VALUES if not any(abs(v - got) < 1e-6 for got in values)]
    assert not missing, f"values stated in the text but not extracted: {missing}; got {result.parameters}"
