"""The hostile suite: LLM-written environments that attack or lie, checked by the Code Executor.

Each case asserts that the call was contained within its limit, that the verdict names the cause, that nothing
outside the sandbox's work dir changed (marker files in the home, the repository, site-packages and /tmp, a canary
file, a listening socket on 127.0.0.1 — all checked), and that no process of the case is left. Cases whose
containment needs namespaces skip, with the reason, where bubblewrap cannot make them.

``ALAMP_HOSTILE_TABLE=path`` writes the table (case, contained, seconds, verdict) as Markdown.
"""

from __future__ import annotations

import os
import socket
import sys
import sysconfig
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from alamp.executor import check_code
from alamp.paths import project_root
from alamp.sandbox import SandboxLimits, detect_isolation, process_limit_available
from alamp.schema import SARSpec

ISOLATION = detect_isolation()
FORCED = os.environ.get("ALAMP_SANDBOX", "auto")
BWRAP = ISOLATION.kind == "bwrap" and FORCED != "process"
REASON = ISOLATION.reason or "ALAMP_SANDBOX=process"
PIDS_CGROUP = process_limit_available()
SAR = SARSpec(observations=["position"], actions=[{"name": "left"}, {"name": "right"}], reward="-1")
LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=1024, file_size_mb=16, max_processes=64)
ROWS: list[tuple[str, bool, float, str]] = []


def env_code(
    *,
    prelude: str = "",
    init: str = "",
    reset: str = "",
    step: str = "",
    obs: str = "np.array([self.position], dtype=np.float32)",
    reward: str = "-1.0",
    obs_space: str = "spaces.Box(0, 10, shape=(1,), dtype=np.float32)",
    action_space: str = "spaces.Discrete(2)",
) -> str:
    """A working corridor environment with hostile code spliced in."""

    def block(code: str, depth: int) -> str:
        return textwrap.indent(textwrap.dedent(code).strip() or "pass", " " * depth)

    return (
        "import numpy as np\nimport gymnasium as gym\nfrom gymnasium import spaces\n"
        + block(prelude, 0)
        + "\n\n\nclass HostileEnv(gym.Env):\n    def __init__(self):\n"
        + f"        self.observation_space = {obs_space}\n        self.action_space = {action_space}\n"
        + block(init, 8)
        + "\n\n    def reset(self, seed=None, options=None):\n        super().reset(seed=seed)\n"
        + "        self.position, self.t = 0, 0\n"
        + block(reset, 8)
        + f"\n        return {obs}, {{}}\n\n    def step(self, action):\n"
        + "        self.position = int(np.clip(self.position + (1 if action == 1 else -1), 0, 10))\n"
        + "        self.t += 1\n"
        + block(step, 8)
        + f"\n        return {obs}, {reward}, self.position >= 10, self.t >= 50, {{}}\n"
    )


@dataclass
class World:
    """What the hostile code aims at, and the checks that it did not get there."""

    marker: str
    canary: Path
    listener: socket.socket
    targets: dict[str, Path] = field(default_factory=dict)
    pids_before: set[int] = field(default_factory=set)

    def changed(self) -> list[str]:
        problems = [f"{name}: {path} exists" for name, path in self.targets.items() if path.exists()]
        if self.canary.read_text() != "original":
            problems.append(f"canary {self.canary} was changed")
        try:
            connection, _ = self.listener.accept()
            connection.close()
            problems.append("a connection reached the 127.0.0.1 listener")
        except BlockingIOError:
            pass
        return problems

    def leftover_processes(self, *, wait_s: float = 2.0) -> list[str]:
        deadline = time.monotonic() + wait_s
        while True:
            left = [desc for pid in _pids() - self.pids_before if (desc := _case_process(pid, self.marker))]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)


def _pids() -> set[int]:
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


_OUR_USERNS = os.readlink("/proc/self/ns/user")


def _case_process(pid: int, marker: str) -> str:
    """A description of ``pid`` if it belongs to a sandboxed case (marker, sandbox cwd or another user ns)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        cwd = os.readlink(f"/proc/{pid}/cwd")
        userns = os.readlink(f"/proc/{pid}/ns/user")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""
    if state == "Z":
        return ""
    # Ours: the case's marker, the bwrap work dir, or (fallback) our interpreter in a sandbox temp dir. Other
    # people's sandboxes on a shared machine (another interpreter) are not this case's processes.
    ours_fallback = "alamp-sandbox-" in cwd and cmdline.startswith(sys.executable)
    if marker in cmdline or cwd.startswith("/sandbox") or ours_fallback or (userns != _OUR_USERNS and
                                                                            cmdline.startswith(sys.executable)):
        return f"pid {pid} ({cmdline.strip()[:80]}, cwd {cwd})"
    return ""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    marker = f"alamp_hostile_{uuid.uuid4().hex[:10]}"
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    targets = {
        "home": Path.home() / marker,
        "repository": project_root() / marker,
        "package": project_root() / "alamp" / marker,
        "site-packages": site_packages / marker,
        "tmp": Path(tempfile.gettempdir()) / marker,
        "case dir": tmp_path / marker,
    }
    yield World(marker=marker, canary=canary, listener=listener, targets=targets, pids_before=_pids())
    listener.close()
    for path in targets.values():
        if path.exists():
            path.unlink()


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    yield
    out = os.environ.get("ALAMP_HOSTILE_TABLE")
    if out and ROWS:
        lines = ["| case | contained | seconds | verdict |", "|---|---|---|---|"]
        for name, contained, seconds, verdict in ROWS:
            text = " ".join(verdict.split()).replace("|", "\\|")
            lines.append(f"| {name} | {'yes' if contained else 'NO'} | {seconds:.2f} | {text[:160]} |")
        with open(out, "a") as fh:
            fh.write("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    stage: str | None  # None: the environment passes (the attack changes nothing the checks see)
    cause: tuple[str, ...] = ()  # every string must be in the verdict
    needs_ns: bool = False
    needs_pids_cgroup: bool = False
    limit_s: float = LIMITS.timeout_s


def _t(world: World, name: str) -> str:
    return repr(str(world.targets.get(name, Path('/nonexistent'))))


def cases(world: World) -> list[Case]:
    home, repo, pkg, site, tmp = (_t(world, k) for k in ("home", "repository", "package", "site-packages", "tmp"))
    canary, port = repr(str(world.canary)), world.listener.getsockname()[1]
    return [
        # --- endless loops in each method, and code that will not die -------------------------------------------
        Case("loop at import", env_code(prelude="while True:\n    pass"), "timeout", ("loading the module",)),
        Case("loop in __init__", env_code(init="while True:\n    pass"), "timeout", ("loading the module",)),
        Case("loop in reset", env_code(reset="while True:\n    pass"), "timeout", ("reset()",)),
        Case("loop in step", env_code(step="while True:\n    pass"), "timeout", ("step() at step 0",)),
        Case("sleep in step", env_code(prelude="import time", step="time.sleep(600)"), "timeout", ("step()",)),
        Case(
            "signal handlers ignore TERM/INT/HUP, then loop",
            env_code(
                prelude="import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
                "    signal.signal(s, signal.SIG_IGN)",
                step="while True:\n    pass",
            ),
            "timeout",
            ("timed out",),
        ),
        # --- memory, processes, threads, crashes --------------------------------------------------------------
        Case("allocate 8 GiB", env_code(step="x = bytearray(8 * 1024 ** 3)"), "step", ("MemoryError",)),
        # Filling the address space takes about 2 s on a slow 2-core machine: under a full CI run's load it once ran
        # past the 3 s step limit (session 15), so this case gets 10 s; the verdict it must give is unchanged.
        Case("grow until the limit", env_code(step="x = []\nwhile True:\n    x.append(bytearray(10 ** 7))"), "step",
             ("MemoryError",), limit_s=10.0),
        Case(
            "fork bomb",
            env_code(prelude="import os, time", init="for _ in range(500):\n    if os.fork() == 0:\n"
                     "        time.sleep(60)\n        os._exit(0)"),
            "construct",
            ("Resource temporarily unavailable",),
            needs_pids_cgroup=True,
        ),
        Case(
            "20 children per instance, one in a new session writing files",
            env_code(
                prelude="import os, time",
                init="for i in range(20):\n    if os.fork() == 0:\n        if i == 0:\n            os.setsid()\n"
                "        while True:\n            open('late.txt', 'a').write('x')\n            time.sleep(0.05)",
            ),
            None,
        ),
        Case("a thread left spinning", env_code(prelude="import threading", init="threading.Thread(target=lambda: "
             "[None for _ in iter(int, 1)]).start()"), None),
        Case("ctypes segfault", env_code(prelude="import ctypes", step="ctypes.string_at(0)"), "sandbox",
             ("SIGSEGV",)),
        # --- escapes: shell, files, network, secrets, signals ---------------------------------------------------
        Case("os.system writes into the repository",
             env_code(prelude=f"import os\nrc = os.system('touch ' + {repo})\nassert rc == 0, f'os.system: {{rc}}'"),
             "import", ("os.system: 256",), needs_ns=True),
        Case("subprocess writes into home",
             env_code(prelude=f"import subprocess\nsubprocess.run(['sh', '-c', 'echo x > ' + {home}], check=True)"),
             "import", ("CalledProcessError",), needs_ns=True),
        Case("write into home", env_code(prelude=f"open({home}, 'w').write('x')"), "import",
             ("Read-only file system",), needs_ns=True),
        Case("write into the alamp package", env_code(prelude=f"open({pkg}, 'w').write('x')"), "import",
             ("Read-only file system",), needs_ns=True),
        Case("write into site-packages", env_code(prelude=f"open({site}, 'w').write('x')"), "import",
             ("Read-only file system",), needs_ns=True),
        Case("overwrite a user file", env_code(prelude=f"open({canary}, 'w').write('pwned')"), "import",
             ("No such file or directory",), needs_ns=True),
        Case("write to /tmp (lands in the sandbox's own tmpfs)", env_code(prelude=f"open({tmp}, 'w').write('x')"),
             None, needs_ns=True),
        Case("fill the disk", env_code(step="for i in range(8):\n    open(f'fill{i}', 'wb').write(b'0' * 4_000_000)"),
             "step", ("No space left on device",), needs_ns=True),
        Case("connect to a server on 127.0.0.1",
             env_code(prelude=f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)"),
             "import", ("Connection refused",), needs_ns=True),
        Case("reach the internet", env_code(prelude="import socket\nsocket.create_connection(('1.1.1.1', 53), "
             "timeout=1)"), "import", ("Network is unreachable",), needs_ns=True),
        Case(
            "read the parent's API key from /proc",
            env_code(prelude=f"import os, glob\nfound = []\nfor p in glob.glob('/proc/*/environ') + "
                     f"['/proc/{os.getpid()}/environ']:\n    try:\n        found.append(open(p).read())\n"
                     "    except OSError:\n        pass\nraise RuntimeError('leaked: ' + repr(found))"),
            "import",
            ("RuntimeError: leaked",),
            needs_ns=True,
        ),
        Case("read /etc/shadow", env_code(prelude="print(open('/etc/shadow').read())"), "import",
             ("No such file or directory",), needs_ns=True),
        Case(
            "kill the alamp process and everything else",
            env_code(prelude=f"import os, signal\nfor pid in (os.getppid(), {os.getpid()}):\n    try:\n"
                     "        os.kill(pid, signal.SIGKILL)\n    except ProcessLookupError:\n        pass\n"
                     "os.kill(-1, signal.SIGKILL)"),
            "import",
            ("ProcessLookupError",),  # nothing else is visible to kill (the test process is still alive)
            needs_ns=True,
        ),
        # --- forged verdicts -------------------------------------------------------------------------------------
        Case(
            "no step; writes result.json and exits 0",
            "import json, os\nimport gymnasium as gym\nclass Forged(gym.Env):\n    pass\n"
            "json.dump({'ok': True, 'report': {'passed': True}}, open('result.json', 'w'))\nos._exit(0)\n",
            "sandbox",
            ("exited with status 0 without answering",),
        ),
        Case(
            "monkeypatches alamp.executor, has no step",
            env_code(prelude="import alamp.executor as ex\nex.run_checks = lambda *a, **k: {'passed': True}\n"
                     "ex._drive = lambda *a, **k: {'passed': True}", step="raise NotImplementedError('no step')"),
            "step",
            ("NotImplementedError",),
        ),
        Case("forges a 'passed' answer on the message channel",
             env_code(prelude="import __main__\n__main__._send({'ok': True, 'passed': True, 'stage_failed': None})"),
             "spaces", ("observation_space is",)),
        Case("announces a 2 GiB answer",
             env_code(prelude="import __main__, struct\n__main__._OUT.write(struct.pack('>I', 2 ** 31))"),
             "sandbox", ("over the",)),
        # --- lying spaces and bad values --------------------------------------------------------------------------
        Case("observation of the wrong shape", env_code(obs="np.array([self.position, 0], dtype=np.float32)"),
             "step", ("shape (2,)", "declares shape (1,)")),
        Case("observation of the wrong dtype", env_code(obs="np.array([self.position], dtype=np.float64)"),
             "step", ("dtype float64", "declares float32")),
        Case("observation 1000x out of bounds", env_code(obs="np.array([self.position * 1000 + 10_000], "
             "dtype=np.float32)"), "step", ("outside the declared bounds",)),
        Case("string reward", env_code(reward="'-1'"), "step", ("reward of type str",)),
        Case("NaN observation", env_code(obs="np.array([np.nan], dtype=np.float32)"), "step",
             ("non-finite observation",)),
        Case("infinite reward", env_code(reward="float('inf')"), "step", ("non-finite reward",)),
        Case("200,000-entry observation space", env_code(obs_space="spaces.Box(0, 10, shape=(200_000,), "
             "dtype=np.float32)"), "spaces", ("200,000 entries",)),
        Case("a billion actions", env_code(action_space="spaces.Discrete(10 ** 9)"), "spaces",
             ("1..1000 actions",)),
        # --- huge outputs ----------------------------------------------------------------------------------------
        Case("52 MB exception text", env_code(step="raise ValueError('x' * 52_000_000)"), "step",
             ("ValueError", "characters cut")),
        Case("floods stdout past the file-size limit", env_code(prelude="import sys",
             reset="sys.stdout.write('y' * 40_000_000)"), "check_env", ("File too large",)),
    ]


def _case_names() -> list[str]:
    with socket.socket() as unbound:
        return [c.name for c in cases(World(marker="x", canary=Path("/"), listener=unbound))]


CASE_NAMES = _case_names()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_generated_code_is_contained(name: str, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    case = next(c for c in cases(world) if c.name == name)
    if case.needs_ns and not BWRAP:
        pytest.skip(f"needs namespace isolation: {REASON}")
    if case.needs_pids_cgroup and not PIDS_CGROUP:
        pytest.skip("needs a writable pids cgroup for the process limit")
    secret = f"sk-hostile-{world.marker}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    report = check_code(case.code, sar=SAR, n_steps=60, limits=replace(LIMITS, timeout_s=case.limit_s))
    verdict = "passed" if report.passed else f"{report.stage_failed}: {report.error}"
    changed = world.changed()
    left = world.leftover_processes()
    contained = not changed and not left and report.seconds < case.limit_s + 5
    ROWS.append((case.name, contained, report.seconds, verdict))

    assert not changed, changed
    assert not left, left
    assert report.seconds < case.limit_s + 5
    assert secret not in verdict
    assert len(report.error) < 8000
    if case.stage is None:
        assert report.passed, verdict
    else:
        assert not report.passed and report.stage_failed == case.stage, verdict
        for text in case.cause:
            assert text in report.error, verdict
    if BWRAP:
        assert report.isolation == "bwrap" and not report.warning


def test_fallback_says_so_in_the_verdict(world: World) -> None:
    code = env_code(step="raise RuntimeError('boom')")
    report = check_code(code, sar=SAR, n_steps=20, limits=SandboxLimits(timeout_s=10, isolation="process"))
    assert report.isolation == "process" and "without namespace isolation" in report.warning
    assert not report.passed and "without namespace isolation" in report.error
    assert not world.leftover_processes()


@pytest.mark.skipif(not PIDS_CGROUP, reason="without a pids cgroup a process in a new session escapes the kill")
def test_late_writers_stop_when_the_verdict_is_given(world: World) -> None:
    """A child in a new session that keeps writing after the verdict: nothing is written once check_code returns."""
    code = env_code(
        prelude="import os, time",
        init=f"if os.fork() == 0:\n    os.setsid()\n    while True:\n        open({str(world.canary)!r}, 'a')"
        ".write('x')\n        time.sleep(0.02)",
    )
    check_code(code, sar=SAR, n_steps=20, limits=SandboxLimits(timeout_s=10, isolation="process"))
    after = world.canary.read_text()
    time.sleep(0.3)
    assert world.canary.read_text() == after  # the process-mode child could write; it stopped with the verdict
    assert not world.leftover_processes()
    world.canary.write_text("original")
