"""Demos chosen per description (``alamp.nearest_demos``, ``PerAgentLabeledFewShot(select="nearest")``)."""

from __future__ import annotations

from pathlib import Path

import dspy
import pytest

from alamp.artifact import load_program, save_program
from alamp.nearest_demos import POOL_KEY, nearest, nearest_demos
from alamp.optimizers import PerAgentLabeledFewShot, build_optimizer
from alamp.program import ALAMP
from alamp.tasks import load_task, load_tasks

GRIDWORLDS = {"frozen_lake_8x8", "cliff_walking", "cliff_walking_slippery"}
PHYSICS = {"chemostat", "cruise_control"}


def test_words_every_document_uses_weigh_nothing() -> None:
    documents = ["the cart moves left and the pole falls", "the queue grows and the server idles " * 5]
    assert nearest("the pole on the cart", documents, 1) == [0]
    assert nearest("the queue of the server", documents, 1) == [1]
    assert nearest("anything", documents, 2) == [0, 1], "ties keep the earlier document"


@pytest.mark.parametrize(("dev_task", "family"), [("frozen_lake", GRIDWORLDS), ("lunar_descent", PHYSICS)])
def test_a_dev_description_finds_a_train_task_of_its_kind(dev_task: str, family: set[str]) -> None:
    train = [t for t in load_tasks() if t.split == "train"]
    picked = nearest(load_task(dev_task).description, [t.description for t in train], 1)
    assert train[picked[0]].id in family


@pytest.fixture(scope="module")
def pooled() -> dspy.Module:
    train = [t for t in load_tasks() if t.split == "train"]
    return build_optimizer({"name": "nearest", "init": {"k": 1, "max_demo_chars": 6000}}).compile(
        ALAMP(), trainset=train
    )


def test_the_pool_holds_every_train_demo_and_each_run_sees_the_nearest(pooled: dspy.Module) -> None:
    sar = pooled.sar
    assert len(sar.demos) > 5 and all(d.get(POOL_KEY) == 1 for d in sar.demos)
    before = {name: list(p.demos) for name, p in pooled.named_predictors()}
    description = load_task("frozen_lake").description
    with nearest_demos(pooled, description) as chosen:
        assert set(chosen) == {name for name, demos in before.items() if demos}
        assert len(sar.demos) == 1
        train_ids = {t.description: t.id for t in load_tasks() if t.split == "train"}
        assert train_ids[sar.demos[0].description] in GRIDWORLDS
    assert {name: list(p.demos) for name, p in pooled.named_predictors()} == before, "the pool is restored"


def test_the_program_runs_inside_the_choice_and_the_pool_survives_saving(
    pooled: dspy.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_path, _ = save_program(pooled, path=tmp_path / "alamp_nearest.json", metadata={})
    loaded = load_program(program_path, program=ALAMP())
    assert [len(p.demos) for _, p in loaded.named_predictors()] == [len(p.demos) for _, p in pooled.named_predictors()]
    seen: dict[str, int] = {}

    def record(self: ALAMP, description: str, *, name: str | None, recorder: object) -> dspy.Prediction:
        seen.update({n: len(p.demos) for n, p in self.named_predictors()})
        return dspy.Prediction(status="failed")

    monkeypatch.setattr(ALAMP, "_forward", record)
    loaded(description=load_task("lunar_descent").description)
    assert seen["sar"] == 1 and seen["env"] == 1 and seen["coding"] == 0
    assert len(loaded.sar.demos) > 5


def test_labeled_select_is_checked() -> None:
    with pytest.raises(ValueError, match="nearest"):
        PerAgentLabeledFewShot(select="closest")
