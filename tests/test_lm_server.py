"""Server lifecycle with a fake OpenAI-compatible server script (fast; no llama_cpp needed)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alamp.lm import (
    LMConfig,
    LocalServer,
    PortInUseError,
    ServerDiedError,
    ServerStartError,
    build_lm,
    get_local_server,
    load_lm_config,
    stop_local_server,
)

# Answers like llama_cpp.server: GET /v1/models and POST /v1/chat/completions (bodies appended to $FAKE_LOG).
# FAKE_MODE=crash exits at once after printing a message; FAKE_MODE=mute never answers.
FAKE_SERVER = textwrap.dedent(
    """
    import argparse, json, os, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model_alias", default="fake")
    args, _ = parser.parse_known_args()
    mode = os.environ.get("FAKE_MODE", "")
    if mode == "crash":
        print("fake server: boom, cannot load model", flush=True)
        sys.exit(3)
    if mode == "mute":
        time.sleep(600)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, obj):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.startswith("/v1/models"):
                self._send({"object": "list", "data": [{"id": args.model_alias, "object": "model"}]})
            else:
                self.send_error(404)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if os.environ.get("FAKE_LOG"):
                with open(os.environ["FAKE_LOG"], "a") as fh:
                    fh.write(json.dumps(body) + "\\n")
            self._send({
                "id": "x", "object": "chat.completion", "created": 0, "model": args.model_alias,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "fake answer"}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            })

        def log_message(self, *a):
            pass

    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()
    """
)


@pytest.fixture
def fake_server(tmp_path: Path) -> Path:
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    return script


@pytest.fixture
def fake_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGUF fake weights")
    return path


@pytest.fixture
def server(fake_server: Path, fake_gguf: Path, tmp_path: Path) -> Iterator[LocalServer]:
    srv = LocalServer(
        model_path=fake_gguf, model_alias="fake-model", server_target=str(fake_server),
        log_path=tmp_path / "server.log", startup_timeout_s=30,
    )  # fmt: skip
    yield srv
    srv.stop()


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Server logs (kept when a server dies) go to a throwaway cache, not the user's.
    monkeypatch.setenv("ALAMP_CACHE_DIR", str(tmp_path / "cache"))


def _local_cfg(fake_server: Path, fake_gguf: Path, **fields: object) -> LMConfig:
    data = load_lm_config(["lm=local"]).model_dump()
    data.update(model_path=str(fake_gguf), server_module=str(fake_server), startup_timeout_s=30, **fields)
    return LMConfig.from_mapping(data)


def test_start_answers_and_stop_leaves_no_process(server: LocalServer) -> None:
    server.start()
    assert server.is_healthy()
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.startup_s is not None and server.startup_s > 0
    pid = server.pid
    assert pid is not None and _alive(pid)
    server.stop()
    assert not _alive(pid)
    assert not server.is_running()
    server.stop()  # idempotent


def test_a_killed_child_is_detected(server: LocalServer) -> None:
    server.start()
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    # Not _wait_gone: a multi-threaded child's leader shows as a zombie in /proc while its other threads still
    # exit, and waitpid reports it only after that, so poll() could still say "running" for a moment.
    assert server._proc is not None
    server._proc.wait(timeout=10)
    assert not server.is_healthy()
    with pytest.raises(ServerDiedError, match="killed by signal 9"):
        server.check_health()


def test_a_taken_port_is_a_clear_error(fake_server: Path, fake_gguf: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = LocalServer(model_path=fake_gguf, model_alias="m", port=port, server_target=str(fake_server),
                          log_path=tmp_path / "s.log")  # fmt: skip
        with pytest.raises(PortInUseError, match=rf"port {port} .*already in use.*lm.port=0"):
            srv.start()
        assert srv.pid is None


def test_a_crashing_server_reports_its_log(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "crash")
    with pytest.raises(ServerStartError, match=r"exited with code 3(.|\n)*boom, cannot load model"):
        server.start()


def test_a_server_that_never_answers_times_out_and_is_stopped(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "mute")
    server.startup_timeout_s = 1.0
    pids: list[int] = []
    real_answers = server._answers

    def spy(*, timeout_s: float) -> bool:
        if server.pid:
            pids.append(server.pid)
        return real_answers(timeout_s=timeout_s)

    server._answers = spy  # type: ignore[method-assign]
    with pytest.raises(ServerStartError, match=r"did not answer .* within 1 s.*lm.startup_timeout_s"):
        server.start()
    assert pids and _wait_gone(pids[-1], timeout_s=5)


def test_shared_server_is_reused_and_restarted_after_a_kill(fake_server: Path, fake_gguf: Path) -> None:
    cfg = _local_cfg(fake_server, fake_gguf)
    try:
        first = get_local_server(cfg)
        assert get_local_server(cfg) is first
        pid = first.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone(pid)
        again = get_local_server(cfg)
        assert again.is_healthy() and again.pid != pid
    finally:
        stop_local_server()


def test_the_prompt_cache_setting_reaches_the_server_and_replaces_it(fake_server: Path, fake_gguf: Path) -> None:
    plain = _local_cfg(fake_server, fake_gguf, prompt_cache_mib=0)
    cached = _local_cfg(fake_server, fake_gguf, prompt_cache_mib=256, server_args=["--n_batch", "256"])
    assert "--cache" not in plain.server_arguments()
    try:
        first = get_local_server(plain)
        assert "--cache" not in first.command()
        second = get_local_server(cached)  # other settings: the shared server is replaced
        assert second is not first and not first.is_running()
        command = second.command()
        at = command.index("--cache_size")
        assert command[command.index("--cache") + 1] == "true" and command[at + 1] == str(256 * 2**20)
        assert command[-2:] == ["--n_batch", "256"]
    finally:
        stop_local_server()


def test_the_default_server_runs_through_the_lean_cache_wrapper(fake_server: Path, fake_gguf: Path) -> None:
    default = load_lm_config(["lm=local"])
    assert default.server_target().endswith("_llama_server.py") and Path(default.server_target()).is_file()
    assert _local_cfg(fake_server, fake_gguf).server_target() == str(fake_server)  # a configured one runs as it is


def test_the_lean_cache_keeps_one_row_of_logits() -> None:
    import numpy as np
    from llama_cpp.llama import LlamaState

    from alamp.lm._llama_server import LeanRAMCache

    cache = LeanRAMCache(capacity_bytes=1000)
    scores = np.arange(12, dtype=np.single).reshape(4, 3)  # n_batch x n_vocab, in miniature
    state = LlamaState(input_ids=np.array([1, 2, 3]), scores=scores, n_tokens=3, llama_state=b"x" * 400,
                       llama_state_size=400, seed=0)  # fmt: skip
    cache[(1, 2, 3)] = state
    kept = cache[(1, 2, 3, 4)]  # the longest shared prefix
    assert kept.scores.shape == (1, 3) and kept.scores.tolist() == [[9.0, 10.0, 11.0]]
    restored = np.zeros((4, 3), dtype=np.single)
    restored[: kept.n_tokens, :] = kept.scores  # what Llama.load_state does: the row broadcasts
    for key in [(5,), (6,), (7,)]:  # 400 bytes each: a capacity of 1000 keeps the two newest
        cache[key] = LlamaState(input_ids=np.array(key), scores=scores, n_tokens=1, llama_state=b"y" * 400,
                                llama_state_size=400, seed=0)  # fmt: skip
    assert list(cache.cache_state) == [(6,), (7,)]


def test_the_disk_prompt_cache_keeps_lean_states_across_servers(tmp_path: Path) -> None:
    import numpy as np
    from llama_cpp.llama import LlamaState

    from alamp.lm._llama_server import LeanDiskCache, take_option

    scores = np.ones((512, 8), dtype=np.single)
    state = LlamaState(input_ids=np.array([1, 2, 3]), scores=scores, n_tokens=3, llama_state=b"k" * 100,
                       llama_state_size=100, seed=0)  # fmt: skip
    LeanDiskCache(str(tmp_path), capacity_bytes=2**20)[(1, 2, 3)] = state
    later = LeanDiskCache(str(tmp_path), capacity_bytes=2**20)  # another server, the next run
    found = later[(1, 2, 3, 9, 9)]
    assert found.scores.shape == (1, 8) and found.llama_state == b"k" * 100
    assert later[(1, 2, 7)].llama_state == b"k" * 100  # handed out, and kept for the next prompt
    argv, folder = take_option(["server", "--n_ctx", "8", "--prompt_cache_dir", "/x/y", "--cache", "true"],
                               "--prompt_cache_dir")  # fmt: skip
    assert (argv, folder) == (["server", "--n_ctx", "8", "--cache", "true"], "/x/y")
    cfg = load_lm_config(["lm=local", "lm.prompt_cache=disk"])
    arguments = cfg.server_arguments(Path("/models/m.gguf"))
    assert arguments[arguments.index("--cache_type") + 1] == "disk"
    folder_name = Path(arguments[arguments.index("--prompt_cache_dir") + 1]).name
    assert folder_name.startswith(f"m-ctx{cfg.n_ctx}-llama_cpp")  # a state fits only the model and settings


def test_build_lm_talks_to_the_managed_server_with_repeat_penalty(
    fake_server: Path, fake_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = tmp_path / "requests.jsonl"
    monkeypatch.setenv("FAKE_LOG", str(requests))
    cfg = _local_cfg(fake_server, fake_gguf, cache=False, repeat_penalty=1.1, max_tokens=50)
    try:
        lm = build_lm(cfg)
        server = get_local_server(cfg)
        assert lm.kwargs["api_base"] == server.base_url
        assert lm("hello") == ["fake answer"]
    finally:
        stop_local_server()
    body = json.loads(requests.read_text().splitlines()[-1])
    assert body["model"] == cfg.served_model_name
    assert body["repeat_penalty"] == 1.1
    assert body["max_tokens"] == 50


def test_the_lm_follows_its_server_when_it_is_killed_or_replaced(
    fake_server: Path, fake_gguf: Path, tmp_path: Path
) -> None:
    # A plain dspy.LM would keep the dead server's port and fail with "Connection error" from then on.
    cfg = _local_cfg(fake_server, fake_gguf, cache=False)
    try:
        lm = build_lm(cfg)
        first = get_local_server(cfg)
        pid = first.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone(pid)
        assert lm("hello") == ["fake answer"]
        restarted = get_local_server(cfg)
        assert restarted.pid != pid and lm.kwargs["api_base"] == restarted.base_url
        stop_local_server()  # e.g. another configuration took the shared slot, then released it
        assert lm("hello again") == ["fake answer"]
        assert lm.copy(temperature=0.7)("a copy too") == ["fake answer"]
    finally:
        stop_local_server()


def test_the_lm_does_not_restart_a_busy_server(
    fake_server: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # llama_cpp.server answers /v1/models only between completions: a probe during another thread's completion
    # times out. The LM checks only that the process lives, so the busy server is not restarted under the caller.
    cfg = _local_cfg(fake_server, fake_gguf, cache=False)
    try:
        lm = build_lm(cfg)
        pid = get_local_server(cfg).pid
        monkeypatch.setattr(LocalServer, "_answers", lambda self, *, timeout_s: False)
        assert lm("while busy") == ["fake answer"]
        assert get_local_server(cfg, probe=False).pid == pid
    finally:
        monkeypatch.undo()
        stop_local_server()


def test_a_server_started_from_a_worker_thread_outlives_the_thread(server: LocalServer) -> None:
    worker = threading.Thread(target=server.start)
    worker.start()
    worker.join()
    time.sleep(1.5)  # with PR_SET_PDEATHSIG the child would now be dead: it fires when the *thread* ends
    assert server.is_healthy()


PARENT = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from alamp.lm import LocalServer
    # Ctrl-C as a terminal delivers it: a test run started in the background (`cmd &` in a script) inherits SIGINT
    # ignored, and this parent then never ended (CI started that way failed here twice).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = LocalServer(model_path=Path(sys.argv[1]), model_alias="m", server_target=sys.argv[2],
                         log_path=Path(sys.argv[3]))
    server.start()
    print(server.pid, flush=True)
    sys.stdin.readline()  # the test checks the server is up, then says go
    print("ready", flush=True)  # past the blocking read: a signal now lands in the loop below
    how = sys.argv[4]
    if how == "exit":
        sys.exit(0)
    if how == "exception":
        raise RuntimeError("the pipeline failed")
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    # Wait for SIGTERM / SIGINT from the test in short sleeps: a signal that lands between the interpreter's
    # pending-signal check and the sleep syscall is only handled when that sleep ends (a 60 s sleep hung CI).
    for _ in range(600):
        time.sleep(0.1)
    """
)


@pytest.mark.parametrize("how", ["exit", "exception", "sigterm", "sigint", "sigkill"])
def test_no_orphan_when_the_parent_ends(how: str, fake_server: Path, fake_gguf: Path, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), str(fake_gguf), str(fake_server), str(tmp_path / "p.log"), how],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stdin is not None and parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.stdin.write("go\n")
    parent.stdin.flush()
    assert parent.stdout.readline().strip() == "ready"  # past its blocking read: the signal lands in its loop
    if how in ("sigterm", "sigint"):
        parent.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
    parent.wait(timeout=30)
    assert _wait_gone(child_pid), f"server pid {child_pid} outlived its parent ({how})"


def test_last_timings_reads_llama_cpp_perf_lines(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text(
        "llama_perf_context_print: prompt eval time =       0.06 ms /    36 tokens (    0.00 ms per token)\n"
        "llama_perf_context_print:        eval time =     500.00 ms /    10 runs   (   50.00 ms per token)\n"
        "llama_perf_context_print:       total time =    2500.00 ms /    46 tokens\n"
    )
    srv = LocalServer(model_path=tmp_path / "m.gguf", model_alias="m", log_path=log)
    timings = srv.last_timings()
    assert timings is not None
    assert (timings.prompt_tokens, timings.generated_tokens) == (36, 10)
    assert timings.prompt_tokens_per_s == pytest.approx(36 / 2.0)
    assert timings.generation_tokens_per_s == pytest.approx(10 / 0.5)


def test_serve_keeps_a_busy_server_and_stops_on_ctrl_c(
    fake_server: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python -m alamp.lm serve` checked /models every 5 s and killed the server when a long completion for another
    # client kept it from answering. A busy server (no answer to /models) must stay up; only a dead one ends serve.
    from alamp.lm import __main__ as cli

    cfg = _local_cfg(fake_server, fake_gguf)
    ticks = iter(range(3))
    busy = {"now": False}

    def sleep(_: float) -> None:  # the serve loop's wait: from here on the server is busy with a completion
        busy["now"] = True
        if next(ticks, None) is None:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_provision", lambda cfg: None)
    try:
        pid = get_local_server(cfg).pid
        # Only the serve loop's clock is replaced (the module's `time`, not the global one the server start uses).
        monkeypatch.setattr(cli, "time", type("Clock", (), {"sleep": staticmethod(sleep)}))
        monkeypatch.setattr(LocalServer, "_answers", lambda self, *, timeout_s: not busy["now"])
        cli._cmd_serve(cfg)
        assert busy["now"]
        assert pid is not None and _alive(pid)
        assert get_local_server(cfg, probe=False).pid == pid
    finally:
        monkeypatch.undo()
        stop_local_server()
