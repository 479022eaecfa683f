"""bench/reference_solvable.py: the ceiling measurement resumes from its JSONL and labels a partial table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from alamp.tasks import load_task

BENCH = Path(__file__).resolve().parents[1] / "bench" / "reference_solvable.py"


def _bench():
    spec = importlib.util.spec_from_file_location("reference_solvable", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cell(task: str, variant: str, seed: int, ret: float, solved: bool) -> dict:
    return {"kind": "cell", "task": task, "variant": variant, "seed": seed, "config": "k", "return": ret,
            "solved": solved, "steps": 100, "cpu_s": 1.0 + seed, "wall_s": 1.0}


def test_rows_survive_a_torn_line_and_the_table_counts_each_seed_once(tmp_path: Path) -> None:
    bench = _bench()
    path = tmp_path / "ceiling.jsonl"
    rows = [_cell("reservoir", "default", s, 710.0, True) for s in range(3)]
    rows.append(_cell("reservoir", "default", 0, 100.0, False))  # a second worker finished seed 0 too
    rows.append({"kind": "study", "task": "reservoir", "trials": {"COMPLETE": 4, "PRUNED": 6}, "cpu_s_this_call": 9})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kind": "cell", "task": "reser')  # killed
    read = bench.read_rows(path)
    assert len(read) == 5

    table = bench.table(read, [load_task("reservoir")], seeds=5, variants=["default", "tuned"])
    assert "| reservoir | train | 700 | 3/3, 710.0, 2.0 | - | 4/6, 9 |" in table
    assert "PARTIAL" in table  # 3 of 5 seeds, no tuned cell

    complete = [_cell("reservoir", v, s, 710.0, True) for v in ("default", "tuned") for s in range(2)]
    assert "PARTIAL" not in bench.table(complete, [load_task("reservoir")], seeds=2, variants=["default", "tuned"])


def test_tasks_run_cheapest_first() -> None:
    bench = _bench()
    ordered = [t.id for t in bench._ordered([load_task("elevator"), load_task("cartpole"), load_task("reservoir")])]
    assert ordered == ["reservoir", "cartpole", "elevator"]
