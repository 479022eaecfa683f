"""A tiny OpenAI-compatible HTTP server on 127.0.0.1 that fails in one chosen way (tests only).

Modes: ``ok``, ``429`` (rate limited, ``Retry-After: 0``), ``5xx`` (503), ``hung`` (accepts, answers nothing for
``hang_s``), ``garbage`` (HTTP 200 whose body is not JSON). It counts requests, serves from daemon threads and
stops itself when the ``with`` block ends; a hung handler sleeps at most ``hang_s``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLMServer", "refused_url"]

_COMPLETION = {
    "id": "x", "object": "chat.completion", "created": 0, "model": "fake",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}  # fmt: skip


class FakeLMServer:
    def __init__(self, mode: str, *, hang_s: float = 3.0) -> None:
        self.mode, self.hang_s, self.requests = mode, hang_s, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                owner.requests += 1
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if owner.mode == "429":
                    self._send(429, json.dumps({"error": {"message": "rate limited"}}).encode(), {"Retry-After": "0"})
                elif owner.mode == "5xx":
                    self._send(503, json.dumps({"error": {"message": "overloaded"}}).encode())
                elif owner.mode == "hung":
                    time.sleep(owner.hang_s)
                elif owner.mode == "garbage":
                    self._send(200, b"<html>upstream proxy error")
                else:
                    self._send(200, json.dumps(_COMPLETION).encode())

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
