"""Runs a server module or script in this process and exits when the parent process that started it is gone.

Usage: ``python path/to/_watchdog.py <parent pid> <module or script.py> [args...]`` (run by path, so the child
needs no installed alamp; it uses only the standard library).

Why not ``prctl(PR_SET_PDEATHSIG)``: Linux sends that signal when the *thread* that forked the child ends, so a
server started from a worker thread (DSPy's parallel evaluators use thread pools) would be killed when that thread
finishes. Polling the parent pid is portable and tied to the parent *process*.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

_POLL_S = 0.5
_GRACE_S = 5.0


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_POLL_S)
    # Orphaned (the parent died, even by SIGKILL): shut down gracefully, then for sure.
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(_GRACE_S)
    os._exit(1)


def main(argv: list[str]) -> None:
    """Start the parent watcher, then run the target as ``__main__`` with ``argv[2:]`` as its arguments."""
    if len(argv) < 2:
        raise SystemExit("usage: python _watchdog.py <parent pid> <module or script.py> [args...]")
    parent_pid, target, args = int(argv[0]), argv[1], argv[2:]
    if os.getppid() != parent_pid:  # the parent died before we got here
        raise SystemExit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="alamp-parent-watch", daemon=True).start()
    # Run by path, Python put this folder first on sys.path; its config.py / server.py must not shadow anything.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.argv = [target, *args]
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
