"""The Hydra side of compile and experiments: conf/compile.yaml and conf/experiment.yaml compose, an experiment job
is a full alamp.run whose run.json the report aggregates, and compile on real task files saves real gold demos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_lm import ScriptedLM
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from program_scripts import CARTPOLE

from alamp.artifact import load_program
from alamp.compile import compile_from_config
from alamp.experiment import ReportCallback, apply_trainer_overrides, run_job
from alamp.paths import conf_dir
from alamp.program import ALAMP
from alamp.report import collect_runs
from alamp.tracking import Tracker, resolve_mode


def composed(config: str, overrides: list[str]) -> object:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name=config, overrides=overrides, return_hydra_config=False)


def test_experiment_config_extends_run_and_presets_define_the_sweep() -> None:
    cfg = composed("experiment", ["task=cartpole", "pipeline=single_model", "debug=fast"])
    assert cfg.pipeline.name == "single_model" and cfg.task == "cartpole"
    assert cfg.trainer_overrides.total_timesteps == 2000 and not cfg.logger.enabled
    apply_trainer_overrides(cfg)
    assert cfg.trainer.dqn.total_timesteps == 2000

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        paper = compose(config_name="experiment", overrides=["experiment=paper_table"], return_hydra_config=True)
    params = paper.hydra.sweeper.params
    assert paper.hydra.mode.name == "MULTIRUN"
    assert (params.pipeline, params.task, str(params.seed)) == (
        "alamp,single_model", "cartpole,mountain_car,wireless,drone,inventory", "0,1,2",
    )
    assert paper.hydra.callbacks.report._target_ == "alamp.experiment.ReportCallback"


def test_experiment_jobs_write_run_json_that_the_report_aggregates(tmp_path: Path) -> None:
    sweep = tmp_path / "multirun" / "2025-01-01" / "12-00-00"
    for num, (pipeline, script) in enumerate([("alamp", CARTPOLE), ("single_model", {})]):
        cfg = composed("experiment", [
            "task=cartpole", f"pipeline={pipeline}", "train=false", "logger=disabled", f"seed={num}",
            "num_candidates=1",
        ])
        # The baseline's LM has no answers: its one stage fails, as a broken model's would.
        summary = run_job(cfg, run_dir=sweep / str(num), lm=ScriptedLM(script))
        assert summary is not None and (sweep / str(num) / "run.json").exists()

    records = {r.pipeline: r for r in collect_runs(sweep)}
    assert (records["alamp"].task, records["alamp"].seed) == ("cartpole", 0)
    assert records["alamp"].modeled and records["alamp"].coded and not records["alamp"].trained
    assert records["alamp"].lm_calls == 7 and records["alamp"].tokens > 0
    assert not records["single_model"].modeled and not records["single_model"].errored

    OmegaConf.set_struct(hydra_cfg := OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}), False)
    ReportCallback(plot=False).on_multirun_end(hydra_cfg)
    report = (sweep / "report.md").read_text()
    assert "| cartpole | alamp | 1 | 0 | 1.00 (1/1) [0.21, 1.00] | 1.00 (1/1)" in report


def test_compile_config_on_real_task_files_saves_gold_demos(tmp_path: Path) -> None:
    cfg = composed("compile", [
        "train_task_ids=[cartpole,drone]", "evaluate.before=false", "evaluate.after=false", "logger=disabled",
        f"artifacts_dir={tmp_path}", "lm_cache.enabled=false", "progress=false", "max_repairs=3",
    ])
    assert cfg.name is None and cfg.optimizer.name == "labeled"
    result = compile_from_config(cfg, dev_items=[], configure_lm=False)
    # Named for what it is: pipeline, optimizer and the LM it was compiled for.
    assert result.program_path == tmp_path / "alamp_labeled__qwen2.5-coder-1.5b-instruct-q4_k_m.json"
    assert result.metadata["tasks"]["train"] == ["cartpole", "drone"]

    program = load_program(result.program_path)  # rebuilt from the metadata, with the compile's settings
    assert isinstance(program, ALAMP) and program.settings.max_repairs == 3
    demo = program.modeling.demos[0]
    assert set(demo) >= {"description", "parameters", "objectives", "variables", "constraints", "mdp"}
    assert program.env.demos[0]["feedback"] == ""


def test_tracking_is_a_no_op_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    tracker = Tracker.start({"enabled": True, "mode": "online"}, config={"a": 1})
    assert not tracker.enabled  # the environment wins over the config
    tracker.log_stage_outputs({"parameter": {"status": "ok"}})
    tracker.log_verdict({"policy_success": True})
    tracker.finish()
    monkeypatch.delenv("WANDB_MODE")
    assert resolve_mode(None) == "offline"  # never online unless asked
    assert resolve_mode("online", enabled=False) == "disabled"
    assert os.environ.get("WANDB_MODE") is None


@pytest.mark.slow
def test_compile_with_the_real_metric_trains_once_thanks_to_the_cache(tmp_path: Path) -> None:
    """Scripted LM, real realize + grade: dev before and after produce the same environment, trained once."""
    import dspy

    cfg = composed("compile", [
        "train_task_ids=[cartpole]", "dev_task_ids=[cartpole]", "debug=fast", f"artifacts_dir={tmp_path / 'art'}",
        "lm_cache.enabled=false", f"train_cache.dir={tmp_path / 'training'}", "metric.eval_episodes=3",
        "metric.fidelity_samples=5", "progress=false",
    ])
    with dspy.context(lm=ScriptedLM(CARTPOLE)):
        result = compile_from_config(cfg, configure_lm=False)
    meta = result.metadata
    assert meta["metric_calls"] == 2
    assert meta["scores"]["before"] == meta["scores"]["after"] and meta["scores"]["before"] > 0
    assert meta["lm_usage"]["calls"] == 14  # 7 agents' calls per dev evaluation, none while compiling
    entries = list((tmp_path / "training").glob("*/*/result.json"))
    assert len(entries) == 1  # the second evaluation hit the training cache
