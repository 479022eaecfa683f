"""The local server's prompt cache (``lm.prompt_cache_mib``): the same alternating agent calls without and with it.

In the Env stage the Env agent and the Env item agent alternate, so the server's one evaluated sequence never starts
with the next call's instructions and demo. With the cache, the state of an earlier call sharing the longest prefix is
restored. For each train/dev task given, this calls the shipped program's Env agent, then its Parameter agent, then
both again (greedy, DSPy's cache off), once with the cache off and once on in RAM (each on a fresh server), and
reports the wall seconds of each round and the ratio (cache on / off) of the repeated calls. Run it on a quiet
machine.

    python bench/prompt_cache.py --tasks thermostat reservoir
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import dspy

from alamp.lm import load_lm_config, stop_local_server
from alamp.lm.adapter import ForgivingChatAdapter
from alamp.lm.config import build_lm
from alamp.optimizers.demos import DEFAULT_FIELD_DEFAULTS, DEFAULT_FIELD_SOURCES, gold_record, resolve_path
from alamp.program import ALAMP
from alamp.run import load_compiled
from alamp.tasks import load_tasks

_PROGRAM = Path(__file__).resolve().parents[1] / "artifacts" / "alamp_labeled__qwen2.5-coder-1.5b-instruct-q4_k_m.json"


def _inputs(predictor: dspy.Predict, record: dict) -> dict:
    out = {}
    for name in predictor.signature.input_fields:
        value = resolve_path(record, DEFAULT_FIELD_SOURCES.get(name, name))
        out[name] = DEFAULT_FIELD_DEFAULTS.get(name, value) if name in DEFAULT_FIELD_DEFAULTS else value
    return out


def _round(lm: dspy.LM, program: ALAMP, record: dict) -> float:
    """Env agent, Parameter agent: the wall seconds of the two calls."""
    start = time.perf_counter()
    with dspy.context(lm=lm, adapter=ForgivingChatAdapter(grammar_field="grammar")):
        for predictor in (program.env, program.parameter):
            try:
                predictor(**_inputs(predictor, record))
            except Exception:  # an unparsable answer costs its time all the same
                pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["thermostat", "reservoir"])
    args = parser.parse_args()
    program = load_compiled(ALAMP(), _PROGRAM)
    tasks = {t.id: t for t in load_tasks()}
    totals = {}
    for mib in (0, 512):
        # RAM, on a fresh server: what one run gains; the disk cache would also carry states from earlier runs.
        overrides = ["lm=local", "lm.cache=false", f"lm.prompt_cache_mib={mib}", "lm.prompt_cache=ram"]
        lm = build_lm(load_lm_config(overrides))
        repeated = 0.0
        for task_id in args.tasks:
            record = gold_record(tasks[task_id])
            first, again = _round(lm, program, record), _round(lm, program, record)
            repeated += again
            print(json.dumps({"prompt_cache_mib": mib, "task": task_id, "first_s": round(first, 1),
                              "again_s": round(again, 1)}), flush=True)  # fmt: skip
        totals[mib] = repeated
        stop_local_server()
    print(json.dumps({"repeated_calls_s": {str(k): round(v, 1) for k, v in totals.items()},
                      "ratio_on_off": round(totals[512] / totals[0], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
