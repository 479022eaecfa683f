"""A scripted fake LM for the program's tests: answers per agent, keyed by signature name.

The agent is recognised from the output fields listed in the prompt's system message (each signature's output
fields are unique), so a test scripts ``{"ParameterSignature": [answer, ...], ...}`` and each call to that agent
takes the next answer (the last one repeats). An answer is a dict of output field -> value, or a callable taking
the user message and returning one. Usage is reported (about 4 characters per token) so that accounting is tested.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from dspy.clients.engines.dummy_engine import AsyncDummyEngine, DummyEngine
from dspy.lm15 import Message, Response, TextPart, Usage
from dspy.utils import DummyLM

import alamp.signatures as sigs

Answer = dict[str, Any] | Callable[[str], dict[str, Any]]

_SIGNATURES = {name: getattr(sigs, name) for name in sigs.__all__}
_BY_OUTPUTS = {tuple(sorted(sig.output_fields)): name for name, sig in _SIGNATURES.items()}
_OUTPUT_LINE = re.compile(r"^\d+\. `(\w+)`", re.M)


def signature_of(system: str) -> str:
    """The signature name whose output fields the system message lists."""
    section = system.split("Your output fields are:", 1)[1].split("All interactions", 1)[0]
    key = tuple(sorted(_OUTPUT_LINE.findall(section)))
    if key not in _BY_OUTPUTS:
        raise KeyError(f"no signature has output fields {key}")
    return _BY_OUTPUTS[key]


class _ScriptedEngine(DummyEngine):
    def _complete_messages(self, messages: list[dict[str, Any]]) -> Response:
        owner: ScriptedLM = self.owner
        name = signature_of(messages[0]["content"])
        user = messages[-1]["content"]
        owner.calls[name] += 1
        owner.log.append((name, user))
        script = owner.script.get(name)
        if not script:
            raise AssertionError(f"the fake LM has no answer scripted for {name}")
        index = min(owner.calls[name] - 1, len(script) - 1)
        answer = script[index]
        values = answer(user) if callable(answer) else answer
        output = owner._format_answer_fields(values)
        prompt_chars = sum(len(m.get("content") or "") for m in messages)
        usage = Usage(input_tokens=prompt_chars // 4, output_tokens=len(output) // 4,
                      total_tokens=(prompt_chars + len(output)) // 4)
        return Response(id=None, model="scripted", message=Message.assistant([TextPart(output)]),
                        finish_reason="stop", usage=usage)


class ScriptedLM(DummyLM):
    """A DummyLM that answers each agent from its own script.

    Args:
        script: Signature name -> answers, in call order (the last one repeats).
    """

    def __init__(self, script: dict[str, list[Answer]]) -> None:
        super().__init__([])
        self.script = script
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self._engine_spec = _ScriptedEngine(self)
        self._async_engine_spec = AsyncDummyEngine(self._engine_spec)

    def copy(self, **kwargs: Any) -> ScriptedLM:
        copied = super().copy(**kwargs)
        copied._engine_spec = _ScriptedEngine(copied)
        copied._async_engine_spec = AsyncDummyEngine(copied._engine_spec)
        return copied
