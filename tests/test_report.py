"""alamp.report: a small fake multirun directory aggregates into the expected rates and Wilson intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alamp.report import aggregate, collect_runs, main, to_markdown, wilson_interval, write_report


def _job(root: Path, num: int, *, task: str, pipeline: str, seed: int, verdict: dict | None, **extra: object) -> None:
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    # As conf/run.yaml composes it: the pipeline is a config group whose name is the choice.
    (job / ".hydra" / "config.yaml").write_text(f"task: {task}\npipeline:\n  name: {pipeline}\nseed: {seed}\n")
    if verdict is not None:
        run = {"task": task, "pipeline": pipeline, "seed": seed, "verdict": verdict, **extra}
        (job / "run.json").write_text(json.dumps(run))


def _verdict(level: int, ret: float | None = None, fid: float | None = None) -> dict:
    """level 0: nothing; 1: modeled; 2: coded; 3: trained; 4: policy success."""
    return {
        "modeled": level >= 1,
        "coded": level >= 2,
        "trained": level >= 3,
        "policy_success": level >= 4,
        "normalized_return": ret,
        "fidelity": fid,
        "start_fidelity": None if fid is None else min(1.0, fid + 0.1),
    }


@pytest.fixture
def multirun(tmp_path: Path) -> Path:
    root = tmp_path / "multirun" / "2025-01-01" / "12-00-00"
    # cartpole × alamp: 2 of 3 succeed.
    _job(root, 0, task="cartpole", pipeline="alamp", seed=0, verdict=_verdict(4, 1.0, 0.9),
         lm={"calls": 10, "total_tokens": 1000}, wall_time_s=30.0)
    _job(root, 1, task="cartpole", pipeline="alamp", seed=1, verdict=_verdict(4, 0.8, 0.7),
         lm={"calls": 12, "total_tokens": 1400}, wall_time_s=50.0)
    _job(root, 2, task="cartpole", pipeline="alamp", seed=2, verdict=_verdict(2, None, None),
         lm={"calls": 14, "total_tokens": 1600}, wall_time_s=40.0)
    # cartpole × single_model: all model, one codes, none succeeds; usage given per agent only.
    _job(root, 3, task="cartpole", pipeline="single_model", seed=0, verdict=_verdict(2, None, 0.5),
         lm={"per_agent": {"single_model": {"calls": 1, "prompt_tokens": 300, "completion_tokens": 200}}})
    _job(root, 4, task="cartpole", pipeline="single_model", seed=1, verdict=_verdict(1),
         lm={"per_agent": {"single_model": {"calls": 1, "prompt_tokens": 300, "completion_tokens": 100}}})
    _job(root, 5, task="cartpole", pipeline="single_model", seed=2, verdict=_verdict(1),
         lm={"per_agent": {"single_model": {"calls": 2, "prompt_tokens": 600, "completion_tokens": 300}}})
    # wireless × alamp: one success and one crashed job (no run.json).
    _job(root, 6, task="wireless", pipeline="alamp", seed=0, verdict=_verdict(4, 0.5, 1.0))
    _job(root, 7, task="wireless", pipeline="alamp", seed=1, verdict=None)
    return root


def test_wilson_interval_matches_hand_computation() -> None:
    # 2/3: p=2/3, z^2=3.8415; centre (0.6667+0.6402)/2.2805=0.5731; half 1.96*sqrt(0.0741+0.1067)/2.2805=0.3654.
    low, high = wilson_interval(2, 3)
    assert low == pytest.approx(0.2077, abs=1e-4)
    assert high == pytest.approx(0.9385, abs=1e-4)
    # 0/3: centre = half = 0.2807 -> [0, 0.5615]; 3/3 mirrors it.
    assert wilson_interval(0, 3) == pytest.approx((0.0, 0.5615), abs=1e-4)
    assert wilson_interval(3, 3) == pytest.approx((0.4385, 1.0), abs=1e-4)
    # 1/2: centre 0.5, half 1.96*sqrt(0.125+0.2401)/2.9207=0.4055 -> [0.0945, 0.9055].
    assert wilson_interval(1, 2) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(4, 3)


def test_aggregate_rates_intervals_and_means(multirun: Path) -> None:
    records = collect_runs(multirun)
    assert len(records) == 8
    crashed = [r for r in records if r.errored]
    assert [(r.task, r.pipeline, r.seed) for r in crashed] == [("wireless", "alamp", 1)]

    rows = {(r.task, r.pipeline): r for r in aggregate(records)}
    alamp = rows[("cartpole", "alamp")]
    assert alamp.n == 3 and alamp.errors == 0
    assert (alamp.rates["modeled"].successes, alamp.rates["coded"].successes) == (3, 3)
    success = alamp.rates["policy_success"]
    assert (success.successes, success.n) == (2, 3)
    assert (success.low, success.high) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    assert alamp.normalized_return == pytest.approx((1.0 + 0.8 + 0.0) / 3)  # the untrained run counts as 0
    assert alamp.fidelity == pytest.approx(0.8)  # mean over runs that measured it
    assert alamp.start_fidelity == pytest.approx(0.9)
    assert alamp.lm_calls == pytest.approx(12.0)
    assert alamp.tokens == pytest.approx(4000 / 3)
    assert alamp.wall_time_s == pytest.approx(40.0)

    single = rows[("cartpole", "single_model")]
    assert single.rates["modeled"].successes == 3
    assert single.rates["coded"].successes == 1
    assert single.rates["policy_success"].successes == 0
    assert single.rates["policy_success"].high == pytest.approx(0.5615, abs=1e-4)
    assert single.lm_calls == pytest.approx(4 / 3)
    assert single.tokens == pytest.approx((500 + 400 + 900) / 3)  # per-agent prompt + completion

    wireless = rows[("wireless", "alamp")]
    assert (wireless.n, wireless.errors, wireless.rates["policy_success"].successes) == (2, 1, 1)
    assert wireless.rates["modeled"].successes == 1  # the crashed job failed every level

    pooled = rows[("all", "alamp")]
    assert (pooled.n, pooled.rates["policy_success"].successes) == (5, 3)


def test_markdown_png_and_cli(multirun: Path, capsys: pytest.CaptureFixture[str]) -> None:
    markdown, paths = write_report(multirun)
    assert "| cartpole | alamp | 3 | 0 |" in markdown
    assert "0.67 (2/3) [0.21, 0.94]" in markdown
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(paths["json"].read_text())
    assert len(saved["runs"]) == 8
    assert paths["md"].read_text() == markdown

    assert main([str(multirun), "--no-plot", "--out", str(multirun / "again")]) == 0
    assert "| wireless | alamp | 2 | 1 |" in capsys.readouterr().out
    assert main([str(multirun / "missing")]) == 2


def test_markdown_of_empty_group_is_readable() -> None:
    assert "task | pipeline" in to_markdown([])


def test_a_sweep_is_grouped_by_every_override_that_varies(tmp_path: Path) -> None:
    """coding × lm over two seeds: four rows of n = 2, not one row of n = 8 (seeds are the replicates)."""
    root = tmp_path / "sweep"
    num = 0
    for coding in ("compiler", "llm"):
        for lm in ("local", "openai"):
            for seed in (0, 1):
                success = coding == "compiler" and lm == "openai" or (seed == 0 and lm == "openai")
                _job(root, num, task="cartpole", pipeline="alamp", seed=seed, verdict=_verdict(4 if success else 2))
                overrides = ["task=cartpole", f"coding={coding}", f"lm={lm}", f"seed={seed}", "logger=disabled",
                             "hydra.verbose=false", "trainer.dqn.total_timesteps=500"]  # fmt: skip
                (root / str(num) / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
                num += 1
    records = collect_runs(root)
    assert records[0].settings == {"coding": records[0].settings["coding"], "lm": records[0].settings["lm"],
                                   "trainer.dqn.total_timesteps": "500"}  # fmt: skip
    rows = {r.setting: r for r in aggregate(records)}
    assert sorted(rows) == [
        "coding=compiler, lm=local", "coding=compiler, lm=openai", "coding=llm, lm=local", "coding=llm, lm=openai",
    ]  # fmt: skip  (the constant override trainer.dqn.total_timesteps splits nothing)
    assert all(row.n == 2 for row in rows.values())
    assert rows["coding=compiler, lm=openai"].rates["policy_success"].successes == 2
    assert rows["coding=llm, lm=openai"].rates["policy_success"].successes == 1
    assert rows["coding=llm, lm=local"].rates["policy_success"].successes == 0
    markdown = to_markdown(aggregate(records))
    assert "| task | pipeline | setting | n |" in markdown
    assert "| cartpole | alamp | coding=llm, lm=openai | 2 | 0 |" in markdown


def test_runs_without_hydra_overrides_are_grouped_by_route_and_model(tmp_path: Path) -> None:
    for num, (coding, model) in enumerate([("compiler", "qwen"), ("llm", "qwen"), ("llm", "qwen")]):
        job = tmp_path / f"run{num}"
        job.mkdir()
        run = {"task": "cartpole", "pipeline": "alamp", "seed": 0, "coding": coding, "lm_config": {"model": model},
               "verdict": _verdict(2)}  # fmt: skip
        (job / "run.json").write_text(json.dumps(run))
    rows = aggregate(collect_runs(tmp_path))
    assert [(r.setting, r.n) for r in rows] == [("coding=compiler", 1), ("coding=llm", 2)]  # the model never varies
