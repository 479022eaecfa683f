"""alamp.tracking: a run directory goes to wandb (offline, into a temp dir) with its verdict and artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_runs import env_failed_run

from alamp.run_report import write_run_report
from alamp.tracking import RUN_ARTIFACTS, Tracker, sweep_group


@pytest.fixture
def offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """wandb in offline mode with every file it writes under ``tmp_path``: nothing can reach the network."""
    home = tmp_path / "wandb-home"
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return home


def test_a_failed_run_logs_its_verdict_and_its_artifacts(offline_wandb: Path, tmp_path: Path) -> None:
    run_dir = env_failed_run(tmp_path)
    write_run_report(run_dir)
    tracker = Tracker.start({"project": "alamp-test"}, config={"task": None}, name="failed", directory=tmp_path,
                            group="sweep-test")  # fmt: skip
    assert tracker.enabled
    summary = tracker._run.summary
    tracker.log_run(run_dir)
    # The levels of a run that was never graded, from its own record: modelled, not coded.
    assert summary["verdict/modeled"] is True and summary["verdict/coded"] is False
    assert summary["verdict/graded"] is False and summary["status"] == "env_failed"
    assert summary["failed_stage"] == "env" and summary["env/passed"] is False and summary["lm/calls"] == 8
    tracker.finish()
    import wandb

    wandb.teardown()  # stops wandb's service process, which writes the run file asynchronously: now it is complete

    # The offline run file holds the group, the summary and the artifacts (report, spec, env;
    # no policy: it never trained).
    [record] = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    data = record.read_bytes()
    assert b"sweep-test" in data and b"verdict/coded" in data
    for kind in ("report", "spec", "env"):
        assert f"{kind}-{run_dir.name}".encode() in data
    assert f"policy-{run_dir.name}".encode() not in data
    # Every file the run has is in its artifact: the report, mdp.md (and the furthest candidate's spec), env.py.
    present = [name for names in RUN_ARTIFACTS.values() for name in names if (run_dir / name).exists()]
    assert {"report.html", "report.md", "mdp.md", "env.py"} <= set(present)
    for name in present:
        assert name.encode() in data, name


def test_logging_is_a_no_op_when_tracking_is_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    tracker = Tracker.start({}, name="off")
    assert not tracker.enabled
    tracker.log_run(tmp_path)  # no run.json, no wandb: nothing happens, nothing raises
    assert not (tmp_path / "wandb").exists()


def test_the_artifacts_cover_report_spec_env_and_policy() -> None:
    assert set(RUN_ARTIFACTS) == {"report", "spec", "env", "policy"}
    assert "training/policy" in RUN_ARTIFACTS["policy"] and "report.html" in RUN_ARTIFACTS["report"]


def test_a_multirun_job_is_grouped_by_its_sweep() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from alamp.paths import conf_dir

    assert sweep_group() is None  # outside Hydra
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="run", return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.sweep.dir = "multirun/2026-11-28/23-40-00"
    HydraConfig.instance().set_config(cfg)
    try:
        assert sweep_group() == "sweep-2026-11-28_23-40-00"
    finally:
        HydraConfig.instance().cfg = None
