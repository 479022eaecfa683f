"""alamp.compile and alamp.optimizers: compile end to end with a scripted LM and a tiny train set, then save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
import yaml
from dspy.utils import DummyLM
from test_artifact import Tiny, gold_example

from alamp.artifact import load_program, read_metadata
from alamp.compile import compile_from_config
from alamp.optimizers import OPTIMIZERS, OptimizerConfigError, build_optimizer, compile_program
from alamp.paths import conf_dir

PARAMS = [{"name": "gain", "value": 1.0, "unit": "", "description": ""}]
OBJECTIVES = [{"name": "stay_near_zero", "sense": "min", "expression": "abs(x)"}]


def scripted_lm(rounds: int = 40) -> DummyLM:
    """Answers the Parameter agent then the Objective agent (ChainOfThought), over and over."""
    return DummyLM(
        [{"parameters": json.dumps(PARAMS)}, {"reasoning": "min |x|", "objectives": json.dumps(OBJECTIVES)}] * rounds
    )


def names_match(example: dspy.Example, pred: dspy.Prediction, trace: Any = None) -> bool:
    """Fake policy-success metric: the predicted parameter names equal the gold ones."""
    return [p.name for p in pred.parameters] == [p.name for p in example.parameters]


def optimizer_conf(name: str) -> dict[str, Any]:
    return yaml.safe_load((conf_dir() / "optimizer" / f"{name}.yaml").read_text())


def compile_cfg(tmp_path: Path, optimizer: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"tiny_{optimizer}",
        "optimizer": optimizer_conf(optimizer),
        "evaluate": {"before": True, "after": True},
        "artifacts_dir": str(tmp_path),
        "lm_cache": {"enabled": False},
        "logger": {"enabled": False},
        "progress": False,
        **extra,
    }


@pytest.fixture
def train_dev() -> tuple[list[dspy.Example], list[dspy.Example]]:
    return [gold_example("a", 1.0), gold_example("b", 1.0)], [gold_example("c", 1.0)]


@pytest.fixture(autouse=True)
def _scripted_dspy() -> Any:
    with dspy.context(lm=scripted_lm(), adapter=dspy.ChatAdapter()):
        yield


@pytest.mark.parametrize("optimizer", ["labeled", "bootstrap"])
def test_compile_end_to_end_saves_a_loadable_program(
    tmp_path: Path, train_dev: tuple[list, list], optimizer: str
) -> None:
    train, dev = train_dev
    result = compile_from_config(
        compile_cfg(tmp_path, optimizer), student=Tiny(), train_items=train, dev_items=dev,
        to_example=lambda e: e, metric=names_match, configure_lm=False,
    )
    assert result.program_path == tmp_path / f"tiny_{optimizer}.json"
    meta = read_metadata(result.program_path)
    assert meta["optimizer"]["name"] == optimizer
    assert meta["tasks"] == {"train": ["a", "b"], "dev": ["c"]}
    assert meta["scores"]["before"] == pytest.approx(100.0) and meta["scores"]["after"] == pytest.approx(100.0)
    assert meta["scores"]["per_task_after"] == {"c": 1.0}
    assert meta["metric_calls"] >= 2 and meta["wall_time_s"] >= 0
    assert set(meta["lm_usage"]) >= {"calls", "total_tokens"}
    assert meta["demos_per_predictor"] == {"parameter": 1, "objective.predict": 1}

    loaded = load_program(result.program_path, program=Tiny())
    demo = loaded.parameter.demos[0]
    assert demo["parameters"][0]["name"] == "gain"
    if optimizer == "bootstrap":
        assert demo.get("augmented") is True  # a trace the metric accepted, not a gold label
        assert loaded.objective.predict.demos[0]["reasoning"] == "min |x|"
    else:
        assert demo["description"] in {e.description for e in train}


def test_labeled_compile_makes_no_lm_call(tmp_path: Path, train_dev: tuple[list, list]) -> None:
    train, _ = train_dev
    cfg = compile_cfg(tmp_path, "labeled", evaluate={"before": False, "after": False})
    lm = scripted_lm()
    with dspy.context(lm=lm):
        result = compile_from_config(
            cfg, student=Tiny(), train_items=train, dev_items=[], to_example=lambda e: e, configure_lm=False
        )
    assert lm.history == []
    assert result.metadata["compile_info"]["labeled"]["parameter"]["available"] == 2


def test_bootstrap_tops_up_agents_without_successful_traces(train_dev: tuple[list, list]) -> None:
    train, _ = train_dev
    outcome = compile_program(
        Tiny(), optimizer_cfg=optimizer_conf("bootstrap"), trainset=train, metric=lambda e, p, t=None: False
    )
    # No trace passed the metric, so every agent got a gold demo instead of none.
    assert outcome.info["demos_per_predictor"] == {"parameter": 1, "objective.predict": 1}
    assert outcome.info["labeled_topup"]["parameter"]["used"] == 1
    assert "augmented" not in outcome.program.parameter.demos[0]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_config_builds(name: str) -> None:
    optimizer = build_optimizer(optimizer_conf(name), metric=names_match)
    assert hasattr(optimizer, "compile")
    if name != "labeled":
        assert getattr(optimizer, "num_threads", 1) == 1  # evaluation stays sequential


def test_bad_optimizer_configs_are_refused_with_the_fix() -> None:
    with pytest.raises(OptimizerConfigError, match="unknown optimizer 'adam'"):
        build_optimizer({"name": "adam"})
    with pytest.raises(OptimizerConfigError, match=r"unknown knob\(s\) \['max_demos_typo'\]"):
        build_optimizer({"name": "bootstrap", "init": {"max_demos_typo": 1}}, metric=names_match)
    with pytest.raises(OptimizerConfigError, match="needs a metric"):
        build_optimizer({"name": "bootstrap"})


def test_gepa_gets_a_five_argument_metric() -> None:
    gepa = build_optimizer(optimizer_conf("gepa"), metric=names_match)
    example = gold_example("a", 1.0)
    pred = dspy.Prediction(parameters=example.parameters)
    assert gepa.metric_fn(example, pred, None, "parameter", None) is True
