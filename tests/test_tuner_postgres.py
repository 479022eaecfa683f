"""One Optuna study shared by worker processes through PostgreSQL (``trainer.tuner.storage=postgresql://...``).

Needs a server: ``ALAMP_TEST_POSTGRES_DSN`` (``.ci/postgres.sh`` starts one on 127.0.0.1 and sets it; CI sources it).
Outside CI the tests skip with the reason when none is reachable; in CI (``CI=true``) a missing server fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from rl_chain import CHAIN_CONFIG, make_chain

from alamp.optimizers import tune_dqn

TESTS_DIR = Path(__file__).resolve().parent
DSN = os.environ.get("ALAMP_TEST_POSTGRES_DSN", "")


def _server_error() -> str | None:
    if not DSN:
        return "ALAMP_TEST_POSTGRES_DSN is not set (source .ci/postgres.sh to start a local server)"
    try:
        import sqlalchemy

        with sqlalchemy.create_engine(DSN).connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no driver, no server, bad credentials: all say the same thing here
        return f"no PostgreSQL server at {DSN}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


_ERROR = _server_error()
if _ERROR and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the PostgreSQL tests: {_ERROR}")
pytestmark = pytest.mark.skipif(_ERROR is not None, reason=_ERROR or "")

WORKER = """
import json, sys, time
from pathlib import Path
from rl_chain import CHAIN_CONFIG, ChainEnv
from alamp.optimizers import tune_dqn
settings, out, delay = json.loads(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
(out / "ready").touch()
while not (out.parent / "go").exists():  # start together, so that both workers take trials
    time.sleep(0.05)
config = CHAIN_CONFIG.replace(stop_on_threshold=False, total_timesteps=int(sys.argv[4]))
result = tune_dqn(make_env=lambda: ChainEnv(step_delay_s=delay), output_dir=out, base_config=config,
                  tuner_config=settings)
print(json.dumps({"run": result.trials_run, "counts": result.trial_counts}))
"""


def _settings(study_name: str, **extra) -> dict:
    return {
        "storage": DSN,
        "study_name": study_name,
        "heartbeat_interval": 1,
        "grace_period": 2,
        "sampler": {"name": "random"},
        "pruner": {"name": "nop"},
        "search_space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
        **extra,
    }


def _start_worker(settings: dict, out: Path, *, delay: float = 0.0, steps: int = 1_000) -> subprocess.Popen:
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(settings), str(out), str(delay), str(steps)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_ready(workers: list[Path], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not all((w / "ready").exists() for w in workers):
        assert time.monotonic() < deadline, "the workers did not start within the timeout"
        time.sleep(0.1)


def test_two_workers_share_one_study_up_to_its_total(tmp_path: Path) -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    settings = _settings(name, total_trials=6, n_trials=None)
    dirs = [tmp_path / "w0", tmp_path / "w1"]
    procs = [_start_worker(settings, d) for d in dirs]
    _wait_ready(dirs)
    (tmp_path / "go").touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_stdout, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr[-2000:]

    study = optuna.load_study(study_name=name, storage=DSN)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    # Each worker stops once the study holds 6 finished trials; one still running then may add one more.
    assert 6 <= len(finished) <= 7 and len(study.trials) == len(finished)
    assert len({t.user_attrs["worker"] for t in finished}) == 2  # both processes took trials
    runs = [json.loads(stdout.strip().splitlines()[-1])["run"] for stdout, _ in outputs]
    assert sum(runs) == len(finished)

    # A later call finds the study complete and runs nothing.
    again = tune_dqn(make_env=make_chain, output_dir=tmp_path / "again", base_config=CHAIN_CONFIG,
                     tuner_config=settings)
    assert again.trials_run == 0 and again.trial_counts == {"COMPLETE": len(finished)}
    assert again.summary()["storage"].startswith("postgresql")


def test_a_killed_workers_trial_is_failed_by_heartbeat_and_retried(tmp_path: Path) -> None:
    name = f"killed-{uuid.uuid4().hex[:8]}"
    settings = _settings(name, n_trials=1, retry_failed_trials=1)
    proc = _start_worker(settings, tmp_path / "w0", delay=0.01, steps=100_000)
    try:
        _wait_ready([tmp_path / "w0"])
        (tmp_path / "go").touch()
        deadline = time.monotonic() + 120
        running: list = []
        while not running:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no trial started within 120 s"
            time.sleep(0.3)
            try:
                running = optuna.load_study(study_name=name, storage=DSN).get_trials(
                    states=[optuna.trial.TrialState.RUNNING])
            except KeyError:  # the study does not exist yet
                continue
        time.sleep(1.5)  # a heartbeat lands
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    killed_params = running[0].params

    time.sleep(3)  # past the grace period: the trial's worker is dead
    resumed = tune_dqn(make_env=make_chain, output_dir=tmp_path / "resume", base_config=CHAIN_CONFIG,
                       tuner_config=settings)
    trials = optuna.load_study(study_name=name, storage=DSN).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].params == killed_params  # the retry re-ran the killed trial's parameters
    assert trials[1].system_attrs.get("failed_trial") == trials[0].number
    assert resumed.trial_counts == {"FAIL": 1, "COMPLETE": 1}


def test_optuna_dashboard_reads_the_shared_study(tmp_path: Path) -> None:
    """``optuna-dashboard <storage URL>`` (docs/trainer.md) lists the study and its trials."""
    import io
    from wsgiref.util import setup_testing_defaults

    dashboard = pytest.importorskip("optuna_dashboard", reason="pip install 'alamp[scale]' for optuna-dashboard")
    name = f"dashboard-{uuid.uuid4().hex[:8]}"
    tuned = tune_dqn(make_env=make_chain, output_dir=tmp_path, base_config=CHAIN_CONFIG,
                     tuner_config=_settings(name, n_trials=1))
    app = dashboard.wsgi(DSN)

    def get(path: str) -> dict:
        environ: dict = {"PATH_INFO": path, "wsgi.input": io.BytesIO()}
        setup_testing_defaults(environ)
        status: list[str] = []
        body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
        assert status[0].startswith("200"), status
        return json.loads(body)

    studies = {s["study_name"]: s["study_id"] for s in get("/api/studies")["study_summaries"]}
    detail = get(f"/api/studies/{studies[name]}")
    assert len(detail["trials"]) == 1 and detail["trials"][0]["state"] == "Complete"
    assert tuned.trial_counts == {"COMPLETE": 1}
