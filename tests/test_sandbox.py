"""The sandbox runs code in a limited child process and reports back as JSON."""

from __future__ import annotations

import pytest

from alamp.sandbox import SandboxLimits, run_in_sandbox


def test_report_comes_back_and_payload_goes_in() -> None:
    result = run_in_sandbox(task_source="def main(p):\n    return {'double': p['x'] * 2}\n", payload={"x": 21})
    assert result.ok and result.report == {"double": 42}
    assert result.returncode == 0 and not result.timed_out


def test_environment_is_scrubbed_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "secret")
    monkeypatch.setenv("HF_TOKEN", "secret")
    source = "import os\ndef main(p):\n    return {'env': dict(os.environ)}\n"
    result = run_in_sandbox(task_source=source)
    env = result.report["env"]
    assert "OPENAI_API_KEY" not in env and "ANTHROPIC_API_KEY" not in env and "HF_TOKEN" not in env
    assert "secret" not in " ".join(env.values())
    assert env["HOME"] != "" and env["PYTHONHASHSEED"]


def test_timeout_kills_the_child() -> None:
    result = run_in_sandbox(task_source="def main(p):\n    while True:\n        pass\n",
                            limits=SandboxLimits(timeout_s=1.0))
    assert not result.ok and result.timed_out
    assert "timed out" in result.error
    assert result.seconds < 10


def test_memory_limit_stops_a_large_allocation() -> None:
    source = "def main(p):\n    block = bytearray(1024 * 1024 * 1024)\n    return {'n': len(block)}\n"
    result = run_in_sandbox(task_source=source, limits=SandboxLimits(memory_mb=300))
    assert not result.ok
    assert "MemoryError" in result.error


def test_exception_comes_back_with_traceback() -> None:
    result = run_in_sandbox(task_source="def main(p):\n    raise ValueError('bad dynamics')\n")
    assert not result.ok and "ValueError: bad dynamics" in result.error


def test_output_is_capped() -> None:
    source = "def main(p):\n    print('x' * 100000)\n    return {}\n"
    result = run_in_sandbox(task_source=source, limits=SandboxLimits(output_bytes=1000))
    assert result.ok  # prints go to stderr, never into the answer channel
    assert len(result.stderr) < 1100 and "cut" in result.stderr


def test_file_size_limit() -> None:
    source = "def main(p):\n    open('big.bin', 'wb').write(b'0' * 5 * 1024 * 1024)\n    return {}\n"
    result = run_in_sandbox(task_source=source, limits=SandboxLimits(file_size_mb=1))
    assert not result.ok
    assert any(s in result.error for s in ("File too large", "larger than", "No space left on device"))


def test_runs_in_a_temporary_directory_and_collects_files(tmp_path) -> None:
    source = (
        "import os\ndef main(p):\n    os.makedirs('out', exist_ok=True)\n"
        "    open('out/a.txt', 'w').write('hello')\n    return {'cwd': os.getcwd()}\n"
    )
    result = run_in_sandbox(task_source=source, collect={"out": tmp_path / "copied"})
    assert result.ok
    assert (tmp_path / "copied" / "a.txt").read_text() == "hello"
    cwd = result.report["cwd"]
    assert cwd == "/sandbox" if result.isolation == "bwrap" else "alamp-sandbox-" in cwd
