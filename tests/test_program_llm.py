"""The full A-LAMP chain on the real embedded model (``@pytest.mark.llm``; ~1-3 minutes on a 2-core CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest
from hydra import compose, initialize_config_dir

from alamp.lm import load_lm_config
from alamp.lm.config import build_adapter
from alamp.paths import conf_dir
from alamp.program import load_outputs
from alamp.run import run

pytestmark = [pytest.mark.llm, pytest.mark.slow]

UPSTREAM = ("parameter", "objective", "variable", "constraint", "modeling", "sar")


def test_cartpole_chain_is_schema_valid_and_writes_the_run_dir(local_lm: dspy.LM, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="run", overrides=["task=cartpole", "train=false", "logger=disabled",
                                                    "progress=false"])
    out = tmp_path / "run"
    with dspy.context(lm=local_lm, adapter=build_adapter(load_lm_config(["lm=local"]))):  # what run.py configures
        summary = run(cfg, run_dir=out, lm=local_lm)
    for stage in UPSTREAM:
        record = json.loads((out / "stages" / f"{stage}.json").read_text())
        assert record["status"] == "ok", f"{stage}: {record['error']}"
        load_outputs(record["output"])  # validates against the schema again
    assert (out / "run.json").is_file() and (out / "mdp.md").is_file()
    # Whether the environment passed is recorded, not asserted (the 1.5B model often gets dynamics wrong).
    print(f"env passed: {summary['env']['passed']}; route: {summary['env']['coding_path']}; "
          f"attempts: {len(summary['env']['attempts'])}; lm: {summary['lm']['calls']} calls, "
          f"{summary['lm']['total_tokens']} tokens")
