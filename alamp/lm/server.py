"""The local model server: ``llama_cpp.server`` as a child process on 127.0.0.1, one shared per process.

Lifecycle: started on first use, health-checked (``GET /v1/models``) before reuse and restarted if it died, stopped
on interpreter exit (atexit; Ctrl-C reaches atexit as KeyboardInterrupt), on SIGTERM (a handler is installed when
none was), and when this process dies without cleaning up (the child watches its parent, see ``_watchdog``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from alamp.lm.errors import ModelNotFoundError, PortInUseError, ServerDiedError, ServerStartError

if TYPE_CHECKING:
    from alamp.lm.config import LMConfig

__all__ = ["LocalServer", "ServerTimings", "get_local_server", "stop_local_server"]

logger = logging.getLogger(__name__)

_PORT_TAKEN = re.compile(r"address already in use|errno 98|only one usage of each socket address", re.IGNORECASE)
# llama.cpp's per-request summary; llama-cpp-python's "prompt eval time" is unreliable (it can read ~0 ms), so the
# prompt time is taken as total - eval.
_PERF = re.compile(
    r"llama_perf_context_print:\s*(prompt eval|eval|total) time\s*=\s*([\d.]+) ms /\s*(\d+) (?:tokens|runs)"
)


@dataclass(frozen=True)
class ServerTimings:
    """llama.cpp's own timings of the last completion (from the server log)."""

    prompt_tokens: int
    prompt_tokens_per_s: float
    generated_tokens: int
    generation_tokens_per_s: float


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The server (uvicorn) binds with SO_REUSEADDR; do the same so a TIME_WAIT socket does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class LocalServer:
    """One ``llama_cpp.server`` (or compatible) child process serving one GGUF model over the OpenAI API.

    Args:
        model_path: The GGUF file.
        model_alias: The model name the server answers to (``openai/<alias>`` in DSPy).
        host: Listen address (keep 127.0.0.1: the server has no authentication).
        port: Listen port; 0 picks a free one.
        n_ctx: Context length in tokens.
        n_threads: CPU threads for generation and prompt processing.
        extra_args: More ``llama_cpp.server`` command-line arguments.
        log_path: Where the child's stdout/stderr go (default: ``<alamp cache>/logs/llama-server.<pid>.log``).
        startup_timeout_s: How long to wait for ``/v1/models`` to answer.
        server_target: Module (or ``.py`` script) to run; tests use a fake server script.
        keep_log: Keep the log after a clean stop (a crashed server's log is always kept).
    """

    def __init__(
        self,
        *,
        model_path: Path,
        model_alias: str,
        host: str = "127.0.0.1",
        port: int = 0,
        n_ctx: int = 4096,
        n_threads: int = 2,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
        startup_timeout_s: float = 180.0,
        server_target: str = "llama_cpp.server",
        keep_log: bool = False,
    ) -> None:
        self.model_path = Path(model_path)
        self.model_alias = model_alias
        self.host = host
        self.requested_port = port
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.extra_args = tuple(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.server_target = server_target
        self.keep_log = keep_log
        if log_path is None:
            from alamp.paths import cache_dir

            log_path = cache_dir() / "logs" / f"llama-server.{os.getpid()}.{id(self):x}.log"
        self.log_path = Path(log_path)
        self.startup_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return f"LocalServer({self.model_path.name}, {self.host}:{self.port}, {state})"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API root, e.g. ``http://127.0.0.1:8123/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        """The child's command line (the watchdog wrapper, then the server and its arguments)."""
        server_args = [
            "--model", str(self.model_path),
            "--model_alias", self.model_alias,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            *self.extra_args,
        ]  # fmt: skip
        # The wrapper is run by path (it needs only the standard library), so the child works from any folder.
        watchdog = str(Path(__file__).with_name("_watchdog.py"))
        return [sys.executable, watchdog, str(os.getpid()), self.server_target, *server_args]

    def start(self) -> LocalServer:
        """Start the child and wait until it answers.

        Raises:
            ModelNotFoundError: If the model file is missing.
            PortInUseError: If the configured port is taken.
            ServerStartError: If the child exits early or does not answer within ``startup_timeout_s``.
        """
        with self._lock:
            if self.is_running():
                return self
            if not self.model_path.is_file():
                raise ModelNotFoundError(
                    f"model file {self.model_path} does not exist: run python -m alamp.lm provision"
                )
            # An auto-picked port can be grabbed by someone else before the child binds it: then pick again.
            attempts = 3 if self.requested_port == 0 else 1
            for attempt in range(1, attempts + 1):
                try:
                    self._start_once()
                    return self
                except PortInUseError:
                    if attempt == attempts:
                        raise
                    logger.info("port %d was taken meanwhile; trying another", self.port)
            return self  # pragma: no cover - the loop returns or raises

    def _start_once(self) -> None:
        if self.requested_port == 0:
            self.port = _free_port(self.host)
        elif not _port_is_free(self.host, self.requested_port):
            raise PortInUseError(
                f"port {self.requested_port} on {self.host} is already in use by another process: "
                f"set lm.port=0 to pick a free port, or choose another port"
            )
        else:
            self.port = self.requested_port
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            # A new session: Ctrl-C in a terminal goes to our process group, and we stop the child ourselves.
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        _register(self)
        logger.info("starting local model server pid=%d at %s (log: %s)", self._proc.pid, self.base_url, self.log_path)
        deadline = started + self.startup_timeout_s
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                tail = self.log_tail()
                self._proc = None
                _unregister(self)
                if _PORT_TAKEN.search(tail):
                    raise PortInUseError(
                        f"the local model server could not bind {self.host}:{self.port} (address already in use): "
                        f"set lm.port=0 to pick a free port, or choose another port"
                    )
                raise ServerStartError(
                    f"the local model server exited with code {code} while starting; log {self.log_path}:\n{tail}"
                )
            if self._answers(timeout_s=2.0):
                self.startup_s = time.monotonic() - started
                logger.info("local model server ready in %.1f s", self.startup_s)
                return
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise ServerStartError(
            f"the local model server did not answer at {self.base_url}/models within {self.startup_timeout_s:.0f} s "
            f"(raise lm.startup_timeout_s if the machine is busy); log {self.log_path}:\n{tail}"
        )

    def _answers(self, *, timeout_s: float) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=timeout_s) as response:
                return response.status == 200 and "data" in json.loads(response.read())
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def is_running(self) -> bool:
        """Whether the child process is alive (says nothing about whether it answers)."""
        return self._proc is not None and self._proc.poll() is None

    def is_healthy(self, *, timeout_s: float = 5.0) -> bool:
        """Whether the child is alive and ``/v1/models`` answers."""
        return self.is_running() and self._answers(timeout_s=timeout_s)

    def check_health(self, *, timeout_s: float = 5.0, probe: bool = True) -> None:
        """Raise if the server is not usable.

        Args:
            timeout_s: How long ``/models`` may take to answer.
            probe: Also ask ``/models``. llama_cpp.server answers it only between completions, so a caller that
                cannot tell a busy server from a hung one (a long-running ``serve``) checks only that the process lives.

        Raises:
            ServerDiedError: If the child exited (killed, crashed) or stopped answering.
        """
        proc = self._proc
        if proc is None:
            raise ServerDiedError(f"the local model server at {self.base_url} is not running (not started, or stopped)")
        code = proc.poll()
        if code is not None:
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise ServerDiedError(
                f"the local model server (pid {proc.pid}) {how}; log {self.log_path}:\n{self.log_tail()}"
            )
        if probe and not self._answers(timeout_s=timeout_s):
            raise ServerDiedError(
                f"the local model server (pid {proc.pid}) is alive but {self.base_url}/models does not answer "
                f"within {timeout_s:.0f} s; log {self.log_path}:\n{self.log_tail()}"
            )

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop the child (SIGTERM to its process group, then SIGKILL after ``timeout_s``). Idempotent."""
        with self._lock:
            proc, self._proc = self._proc, None
            _unregister(self)
            if proc is None or proc.poll() is not None:
                return  # a crashed server's log is kept for diagnosis
            for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
            logger.info("stopped local model server pid=%d", proc.pid)
            if not self.keep_log:
                self.log_path.unlink(missing_ok=True)

    def log_tail(self, *, max_lines: int = 30) -> str:
        """The last lines of the child's log (for error messages)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-max_lines:]) or "(empty log)"

    def last_timings(self) -> ServerTimings | None:
        """llama.cpp's prompt and generation speed for the last completion, parsed from the log (verbose mode)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        found: dict[str, tuple[float, int]] = {}
        for match in _PERF.finditer(text):
            found[match.group(1)] = (float(match.group(2)), int(match.group(3)))
        if not {"prompt eval", "eval", "total"} <= found.keys():
            return None
        prompt_tokens, generated = found["prompt eval"][1], found["eval"][1]
        prompt_ms = max(found["total"][0] - found["eval"][0], 1e-3)
        eval_ms = max(found["eval"][0], 1e-3)
        return ServerTimings(
            prompt_tokens=prompt_tokens,
            prompt_tokens_per_s=1000.0 * prompt_tokens / prompt_ms,
            generated_tokens=generated,
            generation_tokens_per_s=1000.0 * generated / eval_ms,
        )

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- process-wide registry: every started server is stopped on exit -------------------------------------------

_live: set[LocalServer] = set()
_live_lock = threading.Lock()
_hooks_installed = False


def _register(server: LocalServer) -> None:
    global _hooks_installed
    with _live_lock:
        _live.add(server)
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _unregister(server: LocalServer) -> None:
    with _live_lock:
        _live.discard(server)


def _stop_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        server.stop(timeout_s=5.0)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    # Then die of SIGTERM as we would have without the handler.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


# ---- the shared server ------------------------------------------------------------------------------------------

_shared: LocalServer | None = None
_shared_key: tuple[object, ...] | None = None
_shared_lock = threading.Lock()


def get_local_server(cfg: LMConfig, *, probe: bool = True) -> LocalServer:
    """The process-wide server for ``cfg`` (thread-safe): started on first use, reused while healthy.

    A server that died (killed, crashed) is restarted, with a warning carrying the tail of its log. A request with
    different settings (model, port, context, threads) replaces the shared server.

    Args:
        cfg: A ``backend: local`` configuration; its model is provisioned first (see ``ensure_model``).
        probe: Also require ``/v1/models`` to answer. ``False`` checks only that the process is alive: what the LM
            does before every call, because llama_cpp.server answers ``/v1/models`` only between completions, so a
            probe during another thread's long completion would time out and restart a busy, healthy server.

    Raises:
        alamp.lm.LMSetupError: If the model cannot be provisioned or the server does not start.
    """
    global _shared, _shared_key
    from alamp.lm.model import ensure_model

    model_path = ensure_model(cfg)
    key = (
        str(model_path), cfg.served_model_name, cfg.host, cfg.port, cfg.n_ctx, cfg.n_threads,
        tuple(cfg.server_arguments(model_path)), cfg.server_target(),
    )  # fmt: skip
    with _shared_lock:
        if _shared is not None and _shared_key == key:
            if not probe and _shared.is_running():
                return _shared
            try:
                _shared.check_health()
                return _shared
            except ServerDiedError as exc:
                logger.warning("%s\nrestarting it", exc)
                _shared.stop()
        elif _shared is not None:
            logger.info("LM settings changed; replacing the local model server")
            _shared.stop()
        server = LocalServer(
            model_path=model_path,
            model_alias=cfg.served_model_name,
            host=cfg.host,
            port=cfg.port,
            n_ctx=cfg.n_ctx,
            n_threads=cfg.n_threads,
            extra_args=cfg.server_arguments(model_path),
            startup_timeout_s=cfg.startup_timeout_s,
            server_target=cfg.server_target(),
        )
        _shared, _shared_key = None, None
        server.start()
        _shared, _shared_key = server, key
        return server


def stop_local_server() -> None:
    """Stop the shared server, if any (it is also stopped automatically on exit)."""
    global _shared, _shared_key
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
        _shared, _shared_key = None, None
