"""Experiments scale out through Hydra launchers: the same multirun (two tasks x two seeds, each job a full
``alamp.run`` with a gold-answering scripted LM and a tiny training budget) on joblib, submitit_local and a local
Ray instance; and parallel jobs share one LM server through ``lm.api_base`` (``-m llm``: the embedded model).

``make`` installs the launchers (extras ``scale`` and ``ray``); outside CI a missing one skips with the reason.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
SWEEP = ["task=reservoir,machine_replacement", "seed=0,1", "debug=fast", "logger=disabled", "lm_cache.enabled=false"]

pytestmark = pytest.mark.slow


def _need(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install 'alamp[{extra}]', or make)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the launcher tests: {message}")
        pytest.skip(message)


def _multirun(tmp_path: Path, *overrides: str, entry: str = "main", timeout: int = 600) -> Path:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
           "WANDB_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    sweep_root = tmp_path / "multirun"
    proc = subprocess.run(
        [sys.executable, "-c", f"import launcher_app; launcher_app.{entry}()", "-m",
         f"paths.multirun_dir={sweep_root}", *overrides],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sweep,) = [p.parent for p in sweep_root.glob("*/*/multirun.yaml")]
    return sweep


def _check_sweep(sweep: Path) -> list[int]:
    """Four jobs, each a complete graded run; the report counts them all. Returns the jobs' process ids."""
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        summary = json.loads((job / "run.json").read_text())
        # Trained on a tiny budget: the policy may miss the threshold (policy_failed); the run itself completed.
        assert summary["status"] in ("ok", "policy_failed")
        assert summary["verdict"]["coded"] and summary["verdict"]["trained"]
        worker = json.loads((job / "worker.json").read_text())
        seen.add((worker["task"], worker["seed"]))
    assert seen == {(t, s) for t in ("reservoir", "machine_replacement") for s in (0, 1)}
    report = json.loads((sweep / "report.json").read_text())
    assert sum(row["n"] for row in report["rows"] if row["task"] != "all") == 4
    return [json.loads((job / "worker.json").read_text())["pid"] for job in jobs]


def test_joblib_launcher_runs_the_sweep_in_parallel_processes(tmp_path: Path) -> None:
    _need("hydra_plugins.hydra_joblib_launcher", "scale")
    pids = _check_sweep(_multirun(tmp_path, *SWEEP, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"))
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_submitit_local_launcher_runs_each_job_as_a_submitted_process(tmp_path: Path) -> None:
    _need("hydra_plugins.hydra_submitit_launcher", "scale")
    sweep = _multirun(tmp_path, *SWEEP, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10")
    assert len(set(_check_sweep(sweep))) == 4  # one process per job
    assert list(sweep.glob(".submitit/*/*_submission.sh")) or list(sweep.glob(".submitit/*"))


def test_ray_launcher_runs_the_sweep_on_a_local_ray_instance(tmp_path: Path) -> None:
    _need("hydra_plugins.hydra_ray_launcher", "ray")
    _need("ray", "ray")
    # One local instance with one CPU: Ray's start-up dominates (about 6 s), the four jobs run one after another.
    sweep = _multirun(tmp_path, *SWEEP, "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=1",
                      "+hydra.launcher.ray.init.include_dashboard=false")
    pids = _check_sweep(sweep)
    assert len(set(pids)) == 1 and os.getpid() not in pids  # Ray's one worker process ran them all


class _OpenAIStub(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint that adds 2 to the number in the question and logs each request."""

    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = json.dumps(body["messages"])
        number = int(re.search(r"What is (\d+) \+ 2", text).group(1)) + 2
        type(self).requests.append({"path": self.path, "model": body["model"]})
        reply = {"id": "stub", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": str(number)}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def openai_stub() -> Iterator[str]:
    _OpenAIStub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _probe_sweep(tmp_path: Path, api_base: str) -> list[dict]:
    sweep = _multirun(tmp_path, "seed=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "lm=local",
                      f"lm.api_base={api_base}", "lm.cache=false", "logger=disabled", entry="probe_main")
    probes = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/probe.json"))]
    assert len(probes) == 2 and len({p["pid"] for p in probes}) == 2  # two processes ...
    for probe in probes:  # ... each answered by the one server, neither starting its own
        assert probe["api_base"] == api_base and probe["own_servers"] == 0
        assert str(probe["seed"] + 2) in probe["answer"]
    return probes


def test_parallel_jobs_use_the_lm_server_given_by_api_base(tmp_path: Path, openai_stub: str) -> None:
    """``lm=local lm.api_base=URL``: the jobs start no llama.cpp server; every request reaches the one at URL."""
    _need("hydra_plugins.hydra_joblib_launcher", "scale")
    _probe_sweep(tmp_path, openai_stub)
    assert len(_OpenAIStub.requests) == 2
    assert {r["model"] for r in _OpenAIStub.requests} == {"qwen2.5-coder-1.5b-instruct-q4_k_m"}


@pytest.mark.llm
def test_parallel_jobs_share_one_lm_server(tmp_path: Path, local_lm) -> None:
    """Two parallel jobs with ``lm.api_base`` set use the server started once (here: the session's) and start none."""
    _need("hydra_plugins.hydra_joblib_launcher", "scale")
    _probe_sweep(tmp_path, local_lm.kwargs["api_base"])
