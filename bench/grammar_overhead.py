"""Constrained decoding's cost and effect on the embedded model: the same agent calls with and without a grammar.

For each train/dev task given, calls the Parameter agent and the Env agent (with the task's gold upstream outputs)
once with plain decoding and once under the grammar of their output types, greedy and uncached, and reports wall
time, completion tokens and whether the answer parsed. The ratio (grammar / plain seconds per completion token) is
the overhead; run it on a quiet machine (the LLM next to other CPU work slows by 5-40x).

    python bench/grammar_overhead.py --tasks thermostat reservoir
"""

from __future__ import annotations

import argparse
import json
import time

import dspy

from alamp.lm import load_lm_config
from alamp.lm.adapter import ForgivingChatAdapter
from alamp.lm.config import build_lm
from alamp.optimizers.demos import DEFAULT_FIELD_DEFAULTS, DEFAULT_FIELD_SOURCES, gold_record, resolve_path
from alamp.signatures import EnvSignature, ParameterSignature
from alamp.tasks import load_tasks


def _inputs(signature: type[dspy.Signature], record: dict) -> dict:
    out = {}
    for name in signature.input_fields:
        value = resolve_path(record, DEFAULT_FIELD_SOURCES.get(name, name))
        out[name] = DEFAULT_FIELD_DEFAULTS.get(name, value) if name in DEFAULT_FIELD_DEFAULTS else value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["thermostat", "reservoir"])
    args = parser.parse_args()
    lm = build_lm(load_lm_config(["lm=local", "lm.cache=false"]))
    tasks = {t.id: t for t in load_tasks()}
    rows = []
    for task_id in args.tasks:
        record = gold_record(tasks[task_id])
        for signature in (ParameterSignature, EnvSignature):
            for mode in ("plain", "grammar"):
                adapter = ForgivingChatAdapter(grammar_field="grammar" if mode == "grammar" else None)
                start = time.perf_counter()
                parsed = True
                with dspy.context(lm=lm, adapter=adapter):
                    try:
                        dspy.Predict(signature)(**_inputs(signature, record))
                    except Exception:  # an unparsable answer is a finding here
                        parsed = False
                seconds = time.perf_counter() - start
                usage = lm.history[-1].get("usage") or {}
                rows.append({"task": task_id, "agent": signature.__name__, "mode": mode, "seconds": round(seconds, 1),
                             "completion_tokens": usage.get("completion_tokens"),
                             "prompt_tokens": usage.get("prompt_tokens"), "parsed": parsed})
                print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
