"""Run generated code in a child process, never in the alamp process.

The seam for a fuller sandbox: a child ``python -I`` (isolated mode: no user site, no ``PYTHON*`` variables)
in a fresh temporary working directory, with a wall-clock timeout (the whole process group is killed),
``setrlimit`` limits on address space, CPU time, file size and core dumps, an environment scrubbed down to a few
basics (no API keys, tokens or credentials reach the child), and stdout/stderr captured to files and read back
only up to a size cap. The child reports back as JSON.

A task is a Python source defining ``main(payload: dict) -> dict``; the payload goes in as JSON and the returned
dict comes back as ``SandboxResult.report``. Exceptions in the child come back as ``SandboxResult.error`` with the
traceback, so that a Repair step can read them. This uses the standard library only (``subprocess``,
``resource``): nothing on PyPI does this small job without pulling in a container runtime.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SandboxLimits", "SandboxResult", "run_in_sandbox", "scrubbed_env"]

_MB = 1024 * 1024

# Variables passed through to the child; everything else (API keys, tokens, proxies, credentials) is dropped.
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")

_RUNNER = r'''
import json, sys, traceback
sys.path.insert(0, ".")
result = {"ok": False}
try:
    with open("payload.json") as fh:
        payload = json.load(fh)
    import task
    report = task.main(payload)
    result = {"ok": True, "report": report}
except BaseException as exc:  # report everything, including SystemExit and MemoryError
    result = {"ok": False, "error": "".join(traceback.format_exception(exc))[-20000:],
              "error_type": type(exc).__name__}
with open("result.json", "w") as fh:
    json.dump(result, fh, default=str)
'''


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed call.

    Attributes:
        timeout_s: Wall-clock limit; the child's process group is killed after it.
        memory_mb: Address-space limit (``RLIMIT_AS``). torch needs a few GiB of address space just to import.
        cpu_s: CPU-time limit (``RLIMIT_CPU``); default: the timeout plus a margin.
        file_size_mb: Largest file the child may write (``RLIMIT_FSIZE``), stdout/stderr included.
        output_bytes: How much of stdout and stderr is read back.
    """

    timeout_s: float = 60.0
    memory_mb: int = 2048
    cpu_s: int | None = None
    file_size_mb: int = 64
    output_bytes: int = 64 * 1024


@dataclass
class SandboxResult:
    """What came back from the child.

    Attributes:
        ok: The task's ``main`` returned normally and its report came back.
        report: The dict ``main`` returned (None unless ok).
        error: Why it failed, in words (traceback, timeout, limit); empty when ok.
        timed_out: The wall-clock limit was hit.
        returncode: The child's exit status (negative: killed by that signal).
        stdout: The first ``output_bytes`` of stdout.
        stderr: The first ``output_bytes`` of stderr.
        seconds: Wall time of the call.
        collected: Files copied out of the sandbox (sandbox-relative name -> destination path).
    """

    ok: bool
    report: dict[str, Any] | None = None
    error: str = ""
    timed_out: bool = False
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    collected: dict[str, Path] = field(default_factory=dict)


def scrubbed_env(workdir: Path, *, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: a few basics, HOME and TMPDIR inside the sandbox, one thread per library."""
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(
        {
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "WANDB_MODE": "disabled",
        }
    )
    if os.environ.get("ALAMP_ROOT"):
        env["ALAMP_ROOT"] = os.environ["ALAMP_ROOT"]
    env.update(extra or {})
    return env


def _limit_child(limits: SandboxLimits) -> None:
    """Runs in the child between fork and exec: apply the resource limits."""
    cpu = int(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s + 5)
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * _MB, limits.memory_mb * _MB))
    resource.setrlimit(resource.RLIMIT_CPU, (max(1, cpu), max(1, cpu) + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * _MB, limits.file_size_mb * _MB))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _read_capped(path: Path, cap: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        data = fh.read(cap + 1)
    text = data[:cap].decode("utf-8", errors="replace")
    return text + ("\n[... output truncated ...]" if len(data) > cap else "")


def _describe_exit(returncode: int, limits: SandboxLimits) -> str:
    if returncode < 0:
        sig = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else -returncode
        if sig == "SIGXCPU":
            return f"the child used more than its CPU-time limit ({limits.cpu_s or limits.timeout_s + 5:.0f} s)"
        if sig == "SIGXFSZ":
            return f"the child wrote a file larger than {limits.file_size_mb} MiB"
        return f"the child was killed by signal {sig} (memory limit {limits.memory_mb} MiB?)"
    return f"the child exited with status {returncode} without a report"


def run_in_sandbox(
    *,
    task_source: str,
    payload: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
    limits: SandboxLimits | None = None,
    collect: dict[str, Path] | None = None,
    env: dict[str, str] | None = None,
) -> SandboxResult:
    """Run ``main(payload)`` from ``task_source`` in a sandboxed child process.

    Args:
        task_source: Python source defining ``main(payload: dict) -> dict`` (JSON-serialisable).
        payload: The task's input (JSON-serialisable).
        files: Extra text files to put in the working directory (name -> content), e.g. generated code.
        limits: Resource limits; defaults to ``SandboxLimits()``.
        collect: Files or folders to copy out of the working directory after the run (name -> destination).
        env: Extra environment variables for the child (never pass secrets).

    Returns:
        The child's report or the reason it has none.
    """
    limits = limits or SandboxLimits()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="alamp-sandbox-") as tmp:
        root = Path(tmp)
        workdir = root / "work"
        workdir.mkdir()
        for name, content in (files or {}).items():
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        (workdir / "task.py").write_text(task_source)
        (workdir / "payload.json").write_text(json.dumps(payload or {}))
        (workdir / "_runner.py").write_text(_RUNNER)
        stdout_path, stderr_path = root / "stdout.txt", root / "stderr.txt"
        timed_out = False
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [sys.executable, "-I", "_runner.py"],
                cwd=workdir,
                env=scrubbed_env(workdir, extra=env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=lambda: _limit_child(limits),  # noqa: PLW1509 - only setrlimit, no threads involved
            )
            try:
                returncode = proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                returncode = proc.wait()
        result = SandboxResult(
            ok=False,
            timed_out=timed_out,
            returncode=returncode,
            stdout=_read_capped(stdout_path, limits.output_bytes),
            stderr=_read_capped(stderr_path, limits.output_bytes),
        )
        result_path = workdir / "result.json"
        if timed_out:
            result.error = f"timed out after {limits.timeout_s:g} s (the code may loop forever or be far too slow)"
        elif result_path.exists() and result_path.stat().st_size <= limits.file_size_mb * _MB:
            try:
                data = json.loads(result_path.read_text())
            except json.JSONDecodeError as exc:
                result.error = f"the child's report is not valid JSON: {exc}"
            else:
                result.ok = bool(data.get("ok"))
                result.report = data.get("report") if result.ok else None
                result.error = "" if result.ok else str(data.get("error", "unknown error"))
        else:
            result.error = _describe_exit(returncode, limits)
            if result.stderr.strip():
                result.error += "\n" + result.stderr[-4000:]
        for name, destination in (collect or {}).items():
            source = workdir / name
            if not source.exists():
                continue
            destination = Path(destination)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(source, destination)
            result.collected[name] = destination
    result.seconds = time.perf_counter() - start
    return result
