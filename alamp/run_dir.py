"""A run's directory: every stage's output as it finishes, the summary, and what resuming needs.

Layout::

    runs/<timestamp>_<label>/
        run.json             summary: input, config, status and timing per stage, LM calls and tokens per agent,
                             environment route, training, verdict (rewritten after every change)
        stages/<stage>.json  each stage's record: status, seconds, LM usage, typed output
        description.txt      the input description
        mdp.md               the formal model (MDPModel.to_latex())
        report.html          the run's report, self-contained (alamp.run_report.write_run_report); report.md likewise
        env.py               the final environment code (emitted from the spec, or the generated class)
        config.yaml          the composed configuration
        run.log              the log
        training/            learning curve (PNG + JSON) and policy

Every file is written atomically (temporary file, then rename), so a run killed at any moment leaves only whole
files behind, and a rerun with ``resume=<dir>`` continues after the last completed stage.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CorruptRunFileError",
    "RunDir",
    "atomic_write_text",
    "atomic_write_json",
    "to_jsonable",
    "register_resolvers",
]

RUN_FILE = "run.json"
STAGES_DIR = "stages"
#: Largest run.json or stage file read back (a whole run's summary is a few hundred KB).
MAX_RUN_FILE_BYTES = 64 * 1024 * 1024


class CorruptRunFileError(ValueError):
    """A run directory's ``run.json`` or stage file cannot be read; the message names the file and what to do."""


def read_run_file(path: Path, *, fix: str) -> dict[str, Any]:
    """Read a JSON object from a run directory, naming the file and ``fix`` when it is unreadable or corrupt."""
    try:
        size = path.stat().st_size
        if size > MAX_RUN_FILE_BYTES:
            raise CorruptRunFileError(f"{path} is {size:,} bytes, over {MAX_RUN_FILE_BYTES:,}: not alamp's; {fix}")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRunFileError(f"{path} is corrupt (not UTF-8 JSON: {exc}); {fix}") from None
    except OSError as exc:
        raise CorruptRunFileError(f"{path} cannot be read ({exc.strerror or exc}); {fix}") from None
    if not isinstance(data, dict):
        raise CorruptRunFileError(f"{path} is corrupt (a JSON {type(data).__name__}, not an object); {fix}")
    return data


def to_jsonable(value: Any) -> Any:
    """Plain data for JSON: pydantic models dumped, paths as strings, sets as sorted lists."""
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; a run's files (report.html, env.py) get the permissions any new file would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (infinite bounds are kept as ``Infinity``, which Python's json reads back)."""
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")


class RunDir:
    """One run's directory; also the program's stage recorder (``load_stage`` / ``save_stage``).

    Args:
        path: The directory (created if missing).
        on_stage_start: Called with the stage name before a stage calls the LM (progress display).
        on_stage_end: Called with the stage name and its record when a stage finishes.
    """

    def __init__(
        self,
        path: Path,
        *,
        on_stage_start: Callable[[str], None] | None = None,
        on_stage_end: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / STAGES_DIR).mkdir(exist_ok=True)
        self.on_stage_start = on_stage_start
        self.on_stage_end = on_stage_end
        run_file = self.path / RUN_FILE
        self.summary: dict[str, Any] = {}
        if run_file.exists():
            self.summary = read_run_file(
                run_file,
                fix=f"restore it, or start a new run without resume= (the stage outputs in {self.path / STAGES_DIR} "
                "are untouched)",
            )
        if not isinstance(self.summary.get("stages", {}), dict):
            raise CorruptRunFileError(f"{run_file} is corrupt ('stages' is not an object); restore it or run anew")
        self.summary.setdefault("stages", {})
        self.summary.setdefault("created", datetime.now().isoformat(timespec="seconds"))

    # --- creating and reopening ------------------------------------------------------------------------------

    @classmethod
    def create(cls, base: Path, *, label: str, **kwargs: Any) -> RunDir:
        """A new directory ``<base>/<timestamp>_<label>`` (a suffix is added if it exists)."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label) or "run"
        path = Path(base) / f"{stamp}_{safe}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(base) / f"{stamp}_{safe}-{suffix}"
        return cls(path, **kwargs)

    @classmethod
    def resume(cls, path: Path, **kwargs: Any) -> RunDir:
        """Reopen an existing run directory to continue it.

        Raises:
            FileNotFoundError: If ``path`` is not a run directory (no ``run.json``).
        """
        path = Path(path)
        if not (path / RUN_FILE).exists():
            raise FileNotFoundError(
                f"cannot resume {path}: no {RUN_FILE} there; pass resume=<a directory written by python -m alamp.run>"
            )
        return cls(path, **kwargs)

    # --- the stage recorder protocol ---------------------------------------------------------------------------

    def stage_file(self, stage: str) -> Path:
        return self.path / STAGES_DIR / f"{stage}.json"

    def load_stage(self, stage: str) -> dict[str, Any] | None:
        """The record of a completed stage (status ok), else None."""
        path = self.stage_file(stage)
        if not path.exists():
            return None
        record = read_run_file(path, fix="delete it and resume again: that stage (and only it) is then run again")
        return record if record.get("status") == "ok" else None

    def save_stage(self, stage: str, record: dict[str, Any]) -> None:
        """Write a finished stage's record, then the summary."""
        atomic_write_json(self.stage_file(stage), record)
        self.summary["stages"][stage] = {k: v for k, v in record.items() if k != "output"}
        self.flush()
        if self.on_stage_end:
            self.on_stage_end(stage, record)

    def stage_started(self, stage: str) -> None:
        self.summary["stages"].setdefault(stage, {})["status"] = "running"
        self.summary["stages"][stage]["started"] = time.time()
        self.flush()
        if self.on_stage_start:
            self.on_stage_start(stage)

    def completed_stages(self) -> list[str]:
        """Names of the stages whose output is on disk with status ok."""
        return sorted(p.stem for p in (self.path / STAGES_DIR).glob("*.json") if self.load_stage(p.stem))

    # --- other files ---------------------------------------------------------------------------------------------

    def update(self, **fields: Any) -> None:
        """Merge fields into the summary and write it."""
        self.summary.update(to_jsonable(fields))
        self.flush()

    def flush(self) -> None:
        atomic_write_json(self.path / RUN_FILE, self.summary)

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        atomic_write_text(path, text)
        return path

    def write_json(self, name: str, data: Any) -> Path:
        path = self.path / name
        atomic_write_json(path, data)
        return path


def _run_dir_resolver(
    resume: str | None,
    runs_dir: str,
    stamp: str,
    task: str | None,
    description_file: str | None,
    spec: str | None = None,
) -> str:
    """Hydra's output directory for ``alamp.run``: the resumed one, else ``<runs_dir>/<stamp>_<task or file>``
    (for ``spec=`` alone: ``<stamp>_spec_<the spec's directory>``)."""
    if resume:
        return str(resume)
    if task:
        label = str(task)
    elif description_file:
        label = Path(str(description_file)).stem
    elif spec:
        label = "spec_" + (Path(str(spec)).expanduser().resolve().parent.name or "file")
    else:
        label = "run"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
    return f"{runs_dir}/{stamp}_{safe}"


def register_resolvers() -> None:
    """Register the ``run_dir`` resolver used by ``conf/hydra/default.yaml`` (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("run_dir"):
        OmegaConf.register_new_resolver("run_dir", _run_dir_resolver)
