"""How often each assembly pass fired over many runs: ``python -m alamp.assembly.census RUN_DIR_OR_JSON...``.

A pass that no longer fires over a train+dev run is a candidate for deletion (issue #10). Each argument is a run
directory (its ``run.json``; else its ``stages/env.json``), a directory holding run directories, or a JSON file. In
a record, the pass counts are read from a ``fired``/``assembly_fired`` mapping where the record has one; otherwise
each note is matched to the pass that writes it (``Pass.note_pattern``), which counts run directories written
before ``fired`` was recorded (a pass that fires without a note, e.g. ``done_update_terminates``, is then not
seen).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from alamp.assembly.passes import PASSES
from alamp.exit_codes import ExitCode

__all__ = ["census", "census_table", "fired_from_notes", "main"]

_FIRED_KEYS = ("fired", "assembly_fired")


def fired_from_notes(notes: Iterable[str]) -> Counter[str]:
    """Pass name -> number of the ``notes`` that pass wrote (notes no pass writes are not counted)."""
    counts: Counter[str] = Counter()
    for note in notes:
        for step in PASSES:
            if step.note_pattern is not None and step.note_pattern.search(note):
                counts[step.name] += 1
                break
    return counts


def _records(path: Path) -> Iterator[Any]:
    """The JSON records under ``path``: a file, a run directory, or a directory of run directories."""
    if path.is_file():
        yield json.loads(path.read_text())
        return
    for name in ("run.json", "stages/env.json"):
        if (path / name).is_file():
            yield json.loads((path / name).read_text())
            return
    children = sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []
    for child in children:
        yield from _records(child)


def _fired_in(record: Any) -> Counter[str] | None:
    """The pass counts of one record: its ``fired`` mapping, else its notes matched to passes; None if neither.

    A run.json keeps the environment stage's notes under ``env``: that part is read first, so that notes other
    stages keep elsewhere in the record are never taken for assembly's.
    """
    if isinstance(record, Mapping) and isinstance(record.get("env"), Mapping):
        found = _fired_in(record["env"])
        if found is not None:
            return found
    if isinstance(record, Mapping):
        for key in _FIRED_KEYS:
            value = record.get(key)
            if isinstance(value, Mapping):
                return Counter({str(k): int(v) for k, v in value.items()})
        notes = record.get("notes")
        if isinstance(notes, list) and all(isinstance(n, str) for n in notes):
            return fired_from_notes(notes)
        for value in record.values():
            found = _fired_in(value)
            if found is not None:
                return found
    elif isinstance(record, list):
        for value in record:
            found = _fired_in(value)
            if found is not None:
                return found
    return None


def census(paths: Sequence[str | Path]) -> tuple[Counter[str], Counter[str], int]:
    """Add up the pass counts of every run found under ``paths``.

    Args:
        paths: Run directories, directories of run directories, or JSON files (e.g. ``run.json``).

    Returns:
        (fires per pass, number of runs in which each pass fired at least once, number of runs read).

    Raises:
        FileNotFoundError: If a path does not exist.
    """
    fires: Counter[str] = Counter()
    runs_fired: Counter[str] = Counter()
    runs = 0
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such run directory or file; give run directories or run.json files")
        for record in _records(path):
            counts = _fired_in(record)
            if counts is None:
                continue
            runs += 1
            fires.update(counts)
            runs_fired.update(set(counts))
    return fires, runs_fired, runs


def census_table(fires: Mapping[str, int], runs_fired: Mapping[str, int], runs: int) -> str:
    """One line per repair pass, in pass order: fires, runs in which it fired, and ``never`` where it did not."""
    lines = [f"{'pass':<48} {'fires':>6} {'runs':>6}   (of {runs} runs)"]
    for step in PASSES:
        if step.kind != "repair":
            continue
        flag = "   never" if not fires.get(step.name) else ""
        origin = "   [origin: test task]" if step.origin_is_test_task else ""
        lines.append(f"{step.name:<48} {fires.get(step.name, 0):>6} {runs_fired.get(step.name, 0):>6}{flag}{origin}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the census of the given runs; ``ExitCode.BAD_INPUT`` when nothing could be read."""
    parser = argparse.ArgumentParser(prog="python -m alamp.assembly.census", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="run directories, directories of runs, or run.json files")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    try:
        fires, runs_fired, runs = census(args.paths)
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"census: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if runs == 0:
        print("census: no run record with assembly notes or pass counts found under the given paths", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if args.json:
        print(json.dumps({"runs": runs, "fires": dict(fires), "runs_fired": dict(runs_fired)}, indent=2))
    else:
        print(census_table(fires, runs_fired, runs))
    return int(ExitCode.OK)


if __name__ == "__main__":
    raise SystemExit(main())
