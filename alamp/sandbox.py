"""Run untrusted (LLM-written) code in a contained child process, never in the alamp process.

Two levels of containment; the first that works here is used, and the weaker one is never used silently:

- ``bwrap`` (bubblewrap, the Debian package): new user, pid, network, mount, IPC, UTS and cgroup namespaces; the
  interpreter, the virtualenv and the system are mounted read-only (only the directories Python needs; ``/root``,
  ``/home`` and the repository are not there); a size-limited tmpfs is the work dir and ``/tmp``, the only writable
  places apart from output folders the caller asks for; ``--die-with-parent``, a new session, every capability
  dropped, no way to make further user namespaces. The child sees no other process, no network (not even
  127.0.0.1) and no file of the user.
- ``process`` (the fallback where bwrap or namespaces are unavailable): a child ``python -I`` in a temporary
  directory with a scrubbed environment, in its own session. Its result carries a warning (also logged) saying
  that the code could read and write what the user can.

Both get the same limits: ``setrlimit`` on address space, CPU time, file size and core dumps, and where a pids
cgroup is writable (root, or a delegated cgroup) a cap on processes and threads; the cgroup also lets the parent
kill the whole process tree at the end, whatever sessions the child made. Without a cgroup the process group is
killed (bwrap's pid namespace takes every descendant with it).

The parent talks to the child over its stdin/stdout with length-prefixed JSON messages of bounded size (the child's
own prints go to stderr, which is read back capped). :class:`SandboxSession` is that conversation (the Code
Executor drives ``reset``/``step`` through it and decides the verdict itself); :func:`run_in_sandbox` is one
request, ``main(payload) -> dict`` (training). Nothing the child writes to a file is read as its answer.

Standard library only: nothing on PyPI does this small job without pulling in a container runtime.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alamp.text_limits import cap_text

__all__ = [
    "Isolation",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "SandboxSession",
    "detect_isolation",
    "process_limit_available",
    "run_in_sandbox",
    "scrubbed_env",
]

log = logging.getLogger(__name__)

_MB = 1024 * 1024

# Variables passed through to the child; everything else (API keys, tokens, proxies, credentials) is dropped.
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")

#: Where the work dir is inside the bwrap sandbox.
SANDBOX_WORKDIR = "/sandbox"
_HEADER = struct.Struct(">I")

# The child's side of the conversation: framing, a private copy of stdin/stdout for messages (the task's prints go
# to stderr), and the dispatch of requests to the task module's ``handle(request)`` (or ``main(payload)``).
_RUNNER = r'''
import json, os, struct, sys, traceback
_HEADER = struct.Struct(">I")
_IN = os.fdopen(os.dup(0), "rb", buffering=0)
_OUT = os.fdopen(os.dup(1), "wb", buffering=0)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.dup2(2, 1)
sys.path.insert(0, os.getcwd())

def _read(n):
    data = b""
    while len(data) < n:
        chunk = _IN.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data

def _send(obj):
    body = json.dumps(obj, default=repr, allow_nan=True).encode()
    _OUT.write(_HEADER.pack(len(body)) + body)

def _error(exc):
    text = "".join(traceback.format_exception(exc))
    if len(text) > 20000:
        text = text[:6000] + "\n[... cut ...]\n" + text[-12000:]
    return {"ok": False, "error": text, "error_type": type(exc).__name__}

try:
    import task
except BaseException as exc:
    task = None
    _load_error = _error(exc)
while True:
    header = _read(_HEADER.size)
    if header is None:
        break
    body = _read(_HEADER.unpack(header)[0])
    if body is None:
        break
    request = json.loads(body)
    if task is None:
        _send(_load_error)
        continue
    try:
        if hasattr(task, "handle"):
            reply = task.handle(request)
        else:
            reply = {"ok": True, "report": task.main(request.get("payload", {}))}
    except BaseException as exc:
        reply = _error(exc)
    _send(reply)
'''


class SandboxError(RuntimeError):
    """The child did not answer: it timed out, exited, crashed, or sent something not allowed.

    Attributes:
        kind: ``timeout``, ``exited``, ``oversize`` or ``protocol``.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed call.

    Attributes:
        timeout_s: Wall-clock limit of the whole call; the child's process tree is killed after it.
        memory_mb: Address-space limit per process (``RLIMIT_AS``). torch needs a few GiB of address space.
        cpu_s: CPU-time limit (``RLIMIT_CPU``); default: the timeout plus a margin.
        file_size_mb: Largest file the child may write (``RLIMIT_FSIZE``), stderr included; also the size of the
            sandbox's tmpfs work dir.
        output_bytes: How much of stdout/stderr is read back.
        max_processes: Processes and threads the child may have at once (pids cgroup, where writable).
        message_bytes: Largest message the child may send; a larger one ends the call.
        isolation: ``auto`` (bwrap where it works, else the plain child with a warning; the ``ALAMP_SANDBOX``
            environment variable may choose instead), ``bwrap`` (refuse to run without it) or ``process`` (the plain
            child, with the warning).
    """

    timeout_s: float = 60.0
    memory_mb: int = 2048
    cpu_s: int | None = None
    file_size_mb: int = 64
    output_bytes: int = 64 * 1024
    max_processes: int = 64
    message_bytes: int = 4 * _MB
    isolation: str = "auto"


@dataclass
class SandboxResult:
    """What came back from the child.

    Attributes:
        ok: The task's ``main`` returned normally and its report came back.
        report: The dict ``main`` returned (None unless ok).
        error: Why it failed, in words (traceback, timeout, limit); empty when ok.
        timed_out: The wall-clock limit was hit.
        returncode: The child's exit status (negative: killed by that signal).
        stdout: Kept for compatibility: the child's prints go to ``stderr``.
        stderr: The child's stderr (prints included), capped head and tail at ``output_bytes``.
        seconds: Wall time of the call.
        collected: Files copied out of the sandbox (sandbox-relative name -> destination path).
        isolation: ``bwrap`` or ``process``.
        warning: Non-empty when the code ran with weaker isolation than bwrap (say so in every verdict).
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
    isolation: str = ""
    warning: str = ""


@dataclass(frozen=True)
class Isolation:
    """Which containment this machine gives: ``kind`` is ``bwrap`` or ``process``; ``reason`` says why not bwrap."""

    kind: str
    reason: str = ""
    bwrap: str | None = None


@functools.lru_cache(maxsize=1)
def detect_isolation() -> Isolation:
    """Whether bwrap with user, pid and network namespaces works here (probed once per process, ~10 ms)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Isolation("process", "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    probe = [bwrap, *_NAMESPACE_ARGS, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as exc:
        return Isolation("process", f"bwrap could not run: {exc}")
    if done.returncode != 0:
        return Isolation("process", f"bwrap cannot create namespaces here: {done.stderr.strip()[:300]}")
    return Isolation("bwrap", bwrap=bwrap)


_NAMESPACE_ARGS = (
    "--unshare-user",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
)


def _fallback_warning(reason: str) -> str:
    return (
        f"WARNING: generated code ran without namespace isolation ({reason}); it could read and write what this "
        "user can and reach the network. Install bubblewrap (apt-get install bubblewrap) for real isolation."
    )


def scrubbed_env(workdir: Path | str, *, extra: dict[str, str] | None = None) -> dict[str, str]:
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
            "NUMBA_DISABLE_JIT": "1",
        }
    )
    env.update(extra or {})
    return env


class _PidsCgroup:
    """A pids cgroup of its own (cgroup v1 ``pids`` controller or v2 with pids delegated): caps and kills a tree."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_processes: int) -> _PidsCgroup | None:
        name = f"alamp-sandbox-{uuid.uuid4().hex[:12]}"
        for base in _cgroup_bases():
            path = base / name
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_processes))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

    def enter(self) -> None:
        """Runs in the child between fork and exec: move it into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def events_max(self) -> int:
        """How many forks the cap refused."""
        try:
            for line in (self.path / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self, *, timeout_s: float = 5.0) -> int:
        """SIGKILL every process in the cgroup until none is left; returns how many were killed."""
        killed = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
            time.sleep(0.01)
        return killed

    def remove(self) -> None:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)
        log.warning("could not remove cgroup %s", self.path)


@functools.lru_cache(maxsize=1)
def process_limit_available() -> bool:
    """Whether a pids cgroup can be made here (then the process cap and the whole-tree kill are exact)."""
    cgroup = _PidsCgroup.create(8)
    if cgroup is None:
        return False
    cgroup.remove()
    return True


def _cgroup_bases() -> list[Path]:
    bases = [Path("/sys/fs/cgroup/pids")]
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hierarchy, controllers, path = line.split(":", 2)
            if hierarchy == "0" and controllers == "":
                bases.append(Path("/sys/fs/cgroup") / path.lstrip("/"))
            elif "pids" in controllers.split(","):
                bases.insert(0, Path("/sys/fs/cgroup/pids") / path.lstrip("/"))
    except (OSError, ValueError):
        pass
    seen: list[Path] = []
    for base in bases:
        if base not in seen and base.is_dir():
            seen.append(base)
    return seen


def _limit_child(limits: SandboxLimits, cgroup: _PidsCgroup | None) -> None:
    """Runs in the child between fork and exec: join the cgroup and apply the resource limits."""
    if cgroup is not None:
        cgroup.enter()
    cpu = int(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s + 5)
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * _MB, limits.memory_mb * _MB))
    resource.setrlimit(resource.RLIMIT_CPU, (max(1, cpu), max(1, cpu) + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * _MB, limits.file_size_mb * _MB))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _python_dirs() -> list[str]:
    """Directories the child's interpreter needs, read-only: prefixes, stdlib, site-packages, alamp's packages."""
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    for package in ("alamp", "alamp.signatures", "alamp.optimizers"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            candidates += list(spec.submodule_search_locations)
    real = sorted({str(Path(p).resolve()) for p in candidates if p and Path(p).is_dir()} | set())
    keep: list[str] = []
    for path in real:  # sorted: a parent comes before its children, which it already covers
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in keep):
            keep.append(path)
    # The interpreter may be a symlink chain (venv -> pyenv); bind where every link points.
    exe = Path(sys.executable)
    links = [str(exe.parent)]
    while exe.is_symlink():
        exe = (exe.parent / os.readlink(exe)).absolute()
        links.append(str(exe.parent))
    for path in links:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in keep):
            keep.append(path)
    return keep


_SYSTEM_RO = ("/usr", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")


def _bwrap_argv(bwrap: str, *, root: Path, inputs: list[str], outputs: list[str], limits: SandboxLimits) -> list[str]:
    argv = [bwrap, *_NAMESPACE_ARGS, "--disable-userns", "--uid", "65534", "--gid", "65534",
            "--hostname", "alamp-sandbox"]
    for path in _SYSTEM_RO:
        argv += ["--ro-bind-try", path, path]
    for link in ("bin", "lib", "lib64", "sbin", "lib32"):
        host = Path("/") / link
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{link}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{link}"]
    for path in _python_dirs():
        argv += ["--ro-bind", path, path]
    size = str(limits.file_size_mb * _MB)
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm"]
    argv += ["--size", size, "--tmpfs", "/tmp"]
    argv += ["--size", size, "--perms", "0755", "--tmpfs", SANDBOX_WORKDIR]
    for name in inputs:
        argv += ["--ro-bind", str(root / "in" / name), f"{SANDBOX_WORKDIR}/{name}"]
    for name in outputs:
        argv += ["--bind", str(root / "out" / name), f"{SANDBOX_WORKDIR}/{name}"]
    # The root bwrap builds is itself a tmpfs: read-only, so the sized tmpfs mounts are the only writable places.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SANDBOX_WORKDIR, "--"]
    return argv


def _describe_exit(returncode: int | None, limits: SandboxLimits, *, cgroup_refusals: int = 0) -> str:
    if returncode is None:
        return "the child did not exit"
    extra = ""
    if cgroup_refusals:
        extra = f"; {cgroup_refusals} fork(s) refused by the {limits.max_processes}-process limit"
    if returncode < 0 or returncode > 128:
        number = -returncode if returncode < 0 else returncode - 128
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        if name == "SIGXCPU":
            return f"the child used more than its CPU-time limit ({limits.cpu_s or limits.timeout_s + 5:.0f} s){extra}"
        if name == "SIGXFSZ":
            return f"the child wrote a file larger than {limits.file_size_mb} MiB{extra}"
        if name == "SIGSEGV":
            return f"the child crashed (SIGSEGV: a segmentation fault, e.g. from ctypes or a native library){extra}"
        return f"the child was killed by signal {name} (memory limit {limits.memory_mb} MiB?){extra}"
    return f"the child exited with status {returncode} without answering{extra}"


def _read_capped(path: Path, cap: int) -> str:
    """Head and tail of a file, ``cap`` bytes in all (a huge stderr is never read whole)."""
    if not path.exists():
        return ""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size <= cap:
            return fh.read(cap).decode("utf-8", errors="replace")
        head = fh.read(cap // 3).decode("utf-8", errors="replace")
        fh.seek(size - (cap - cap // 3))
        tail = fh.read().decode("utf-8", errors="replace")
    return f"{head}\n[... {size - cap:,} bytes of output cut ...]\n{tail}"


def _copy_out(source: Path, destination: Path, *, max_bytes: int) -> int:
    """Copy regular files only (no symlinks, devices or fifos: the child could point them anywhere); bounded."""
    copied = 0
    if source.is_symlink() or not (source.is_dir() or source.is_file()):
        return 0
    if source.is_file():
        size = source.lstat().st_size
        if size > max_bytes:
            raise SandboxError(f"the child's output file {source.name} is {size:,} bytes", kind="oversize")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        return size
    destination.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        copied += _copy_out(entry, destination / entry.name, max_bytes=max_bytes - copied)
    return copied


class SandboxSession:
    """A contained child process hosting ``task_source`` and answering requests, until closed.

    Args:
        task_source: Python source of the child's ``task`` module: ``handle(request: dict) -> dict`` (answer each
            request) or ``main(payload: dict) -> dict`` (one job; see :func:`run_in_sandbox`).
        files: Extra text files for the work dir (name -> content), read-only for the child under bwrap.
        outputs: Folders the child may write that the caller collects afterwards (relative names).
        limits: Resource limits; defaults to ``SandboxLimits()``.
        env: Extra environment variables for the child (never pass secrets).

    Raises:
        SandboxError: ``isolation="bwrap"`` was asked for and bwrap does not work here.
    """

    def __init__(
        self,
        *,
        task_source: str,
        files: dict[str, str] | None = None,
        outputs: list[str] | tuple[str, ...] = (),
        limits: SandboxLimits | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.timeout_s
        mode = self.limits.isolation
        if mode == "auto":
            mode = os.environ.get("ALAMP_SANDBOX", "auto")
        if mode not in ("auto", "bwrap", "process"):
            raise SandboxError(f"isolation {mode!r} is unknown; use auto, bwrap or process", kind="protocol")
        isolation = detect_isolation() if mode != "process" else Isolation("process", "isolation=process was asked for")
        if isolation.kind != "bwrap" and mode == "bwrap":
            raise SandboxError(f"isolation='bwrap' was required but {isolation.reason}", kind="protocol")
        self.isolation = isolation.kind
        self.warning = _fallback_warning(isolation.reason) if isolation.kind != "bwrap" else ""
        if self.warning:
            log.warning("%s", self.warning)
        self._tmp = tempfile.TemporaryDirectory(prefix="alamp-sandbox-")
        self.root = Path(self._tmp.name)
        self.outputs = [str(Path(name)) for name in outputs]
        inputs = {**(files or {}), "task.py": task_source, "_runner.py": _RUNNER}
        bwrap = isolation.kind == "bwrap"
        host_work = self.root / ("in" if bwrap else "work")
        host_work.mkdir(mode=0o755)
        for name, content in inputs.items():
            target = host_work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        for name in self.outputs:
            (self.root / "out" / name if bwrap else host_work / name).mkdir(parents=True, exist_ok=True)
        self.output_root = self.root / "out" if bwrap else host_work
        self.stderr_path = self.root / "stderr.txt"
        self.cgroup = _PidsCgroup.create(self.limits.max_processes)
        if bwrap:
            assert isolation.bwrap is not None
            argv = _bwrap_argv(isolation.bwrap, root=self.root, inputs=sorted(inputs), outputs=self.outputs,
                               limits=self.limits)
            argv += [sys.executable, "-I", "_runner.py"]
            cwd, child_home = str(self.root), "/tmp"
        else:
            argv = [sys.executable, "-I", "_runner.py"]
            cwd, child_home = str(host_work), str(host_work)
        self.returncode: int | None = None
        self.killed = 0
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv,
                cwd=cwd,
                env=scrubbed_env(child_home, extra=env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=lambda: _limit_child(self.limits, self.cgroup),  # noqa: PLW1509 - no threads involved
            )

    # -- the conversation ---------------------------------------------------------------------------------------
    def remaining(self) -> float:
        """Seconds left before the call's wall-clock limit."""
        return self.deadline - time.monotonic()

    def request(self, message: dict[str, Any], *, timeout_s: float | None = None, what: str = "") -> dict[str, Any]:
        """Send one request and wait for the answer (at most ``timeout_s`` and the call's remaining time).

        Raises:
            SandboxError: Timeout, exit without answering, an answer over ``message_bytes``, or not JSON.
        """
        what = what or str(message.get("op", "request"))
        budget = self.remaining() if timeout_s is None else min(timeout_s, self.remaining())
        body = json.dumps(message).encode()
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._gone(what) from None
        header = self._read_exact(_HEADER.size, budget, what)
        size = _HEADER.unpack(header)[0]
        if size > self.limits.message_bytes:
            self.kill()
            raise SandboxError(
                f"the child's answer to {what} is {size:,} bytes, over the {self.limits.message_bytes:,}-byte limit",
                kind="oversize",
            )
        body = self._read_exact(size, max(self.remaining(), 0.5) if timeout_s is None else budget, what)
        try:
            reply = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SandboxError(f"the child's answer to {what} is not JSON: {exc}", kind="protocol") from None
        if not isinstance(reply, dict):
            raise SandboxError(f"the child's answer to {what} is not a JSON object", kind="protocol")
        return reply

    def _read_exact(self, size: int, budget: float, what: str) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + max(budget, 0.0)
        chunks: list[bytes] = []
        got = 0
        while got < size:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0.0))[0] if left > 0 else []
            if not ready:
                self.kill()
                raise SandboxError(
                    f"timed out: the {self.limits.timeout_s:g} s limit ran out waiting for {what} (the code may loop "
                    "forever or be far too slow)",
                    kind="timeout",
                )
            chunk = os.read(fd, min(size - got, 1 << 20))
            if not chunk:
                raise self._gone(what)
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _gone(self, what: str) -> SandboxError:
        try:
            self.returncode = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        refusals = self.cgroup.events_max() if self.cgroup else 0
        self.kill()
        message = f"{_describe_exit(self.returncode, self.limits, cgroup_refusals=refusals)} (during {what})"
        stderr = self.stderr_tail()
        if stderr.strip():
            message += "\n" + cap_text(stderr, limit=2000)
        return SandboxError(message, kind="exited")

    # -- the end -----------------------------------------------------------------------------------------------
    def stderr_tail(self) -> str:
        """The child's stderr (its prints too), head and tail within ``output_bytes``."""
        return _read_capped(self.stderr_path, self.limits.output_bytes)

    def kill(self) -> None:
        """Kill the child's whole process tree (idempotent) and wait until it is gone."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.killed += self.cgroup.kill_all()
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = self.proc.wait(timeout=5)
            self.returncode = code if self.returncode is None else self.returncode

    def collect(self, collect: dict[str, Path]) -> dict[str, Path]:
        """Copy output folders out (regular files only, bounded by ``file_size_mb``); name -> destination."""
        collected: dict[str, Path] = {}
        for name, destination in collect.items():
            source = self.output_root / name
            if source.is_dir() and not source.is_symlink() and any(source.iterdir()):
                _copy_out(source, Path(destination), max_bytes=self.limits.file_size_mb * _MB)
                collected[name] = Path(destination)
        return collected

    def finish(self) -> None:
        """End the child (closing its stdin first so a well-behaved one exits) and kill what is left of its tree."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.returncode = self.proc.wait(timeout=0.5)
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError, AttributeError):
                stream.close()

    def close(self) -> None:
        """:meth:`finish`, then remove the cgroup and the temporary folders (idempotent)."""
        self.finish()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.root.exists():
            _make_removable(self.root)
            self._tmp.cleanup()

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_removable(root: Path) -> None:
    """The child may have made read-only folders in its outputs: allow their removal."""
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            with contextlib.suppress(OSError):
                path = Path(dirpath) / name
                if not path.is_symlink():
                    path.chmod(0o755)


def run_in_sandbox(
    *,
    task_source: str,
    payload: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
    limits: SandboxLimits | None = None,
    collect: dict[str, Path] | None = None,
    env: dict[str, str] | None = None,
) -> SandboxResult:
    """Run ``main(payload)`` from ``task_source`` in a contained child process.

    Args:
        task_source: Python source defining ``main(payload: dict) -> dict`` (JSON-serialisable).
        payload: The task's input (JSON-serialisable).
        files: Extra text files to put in the working directory (name -> content), e.g. generated code.
        limits: Resource limits; defaults to ``SandboxLimits()``.
        collect: Output folders to copy out after the run (name relative to the work dir -> destination folder).
        env: Extra environment variables for the child (never pass secrets).

    Returns:
        The child's report or the reason it has none.
    """
    limits = limits or SandboxLimits()
    start = time.perf_counter()
    result = SandboxResult(ok=False)
    try:
        session = SandboxSession(task_source=task_source, files=files, outputs=list(collect or {}), limits=limits,
                                 env=env)
    except SandboxError as exc:
        result.error = str(exc)
        result.seconds = time.perf_counter() - start
        return result
    result.isolation, result.warning = session.isolation, session.warning
    try:
        reply = session.request({"op": "main", "payload": payload or {}}, what="main()")
    except SandboxError as exc:
        result.timed_out = exc.kind == "timeout"
        result.error = cap_text(str(exc))
        reply = None
    if reply is not None:
        result.ok = reply.get("ok") is True and isinstance(reply.get("report"), dict)
        result.report = reply["report"] if result.ok else None
        if not result.ok:
            result.error = cap_text(str(reply.get("error") or "the child's answer has no report"))
    try:
        # The child's whole tree is gone before its outputs are read: nothing can change them while they are copied.
        session.finish()
        if result.ok:
            result.collected = session.collect(dict(collect or {}))
    except SandboxError as exc:
        result.ok, result.report, result.error = False, None, str(exc)
    finally:
        result.stderr = session.stderr_tail()
        session.close()
    result.returncode = session.returncode
    if result.warning and result.error:
        result.error = f"{result.error}\n{result.warning}"
    result.seconds = time.perf_counter() - start
    return result
