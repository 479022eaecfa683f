"""The task set: every task file validates, its gold outputs are consistent, and its gold spec matches the reference."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

import alamp.envs
from alamp.envs import KNOWN_POLICIES
from alamp.metric import fidelity
from alamp.tasks import GOLD_FIELDS, Task, load_task, load_tasks, task_ids, task_to_example

PAPER_TASKS = {"cartpole", "mountain_car", "wireless", "drone", "inventory"}
TASK_IDS = task_ids()


def test_task_set_has_the_paper_tasks_as_test_and_enough_train_dev() -> None:
    tasks = load_tasks()
    assert len(tasks) >= 32
    assert {t.id for t in load_tasks("test")} == PAPER_TASKS
    assert len(load_tasks("train")) >= 15
    assert len(load_tasks("dev")) >= 12


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_task_file_is_consistent(task_id: str) -> None:
    task = load_task(task_id)
    ref = task.reference
    env = gym.make(ref.env_id, **ref.kwargs)
    # The stated interface is the reference's: same number of observations and actions, same episode limit.
    assert env.observation_space.shape == (len(task.gold.sar.observations),)
    assert env.action_space.n == task.n_actions
    assert env.spec.max_episode_steps == ref.max_episode_steps
    info = KNOWN_POLICIES[ref.env_id]
    assert (ref.best_policy.name, ref.best_policy.kind) == (info.name, info.kind)
    if ref.env_id.startswith("alamp/"):
        assert list(env.unwrapped.action_names) == [a.name for a in task.gold.sar.actions]
    # Every constant of the gold spec is a gold parameter with the same value.
    params = {p.name: p.value for p in task.gold.parameters}
    for name, value in task.gold.env_spec.constants.items():
        assert params.get(name) == pytest.approx(value), f"constant {name} is not a gold parameter"
    state_vars = [v.name for v in task.gold.variables if v.role == "state"]
    assert state_vars == task.gold.mdp.states == [s.name for s in task.gold.env_spec.state]
    env.close()


def test_descriptions_do_not_copy_each_other() -> None:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return {tuple(words[i : i + 6]) for i in range(len(words) - 5)}

    texts = {t.id: shingles(t.description) for t in load_tasks()}
    for (a, sa), (b, sb) in combinations(texts.items(), 2):
        overlap = len(sa & sb) / max(1, min(len(sa), len(sb)))
        assert overlap < 0.05, f"descriptions of {a} and {b} share {overlap:.0%} of their 6-word runs"


def test_builtin_gold_specs_are_the_spec_examples() -> None:
    examples = pytest.importorskip("alamp.spec.examples", reason="alamp.spec (issue 7) is not there yet")
    from alamp.spec import compile_spec

    for task_id, example in (("cartpole", examples.cartpole_spec()), ("mountain_car", examples.mountain_car_spec())):
        task = load_task(task_id)
        assert fidelity(task, compile_spec(example).make_env, n_samples=100) == 1.0
        assert len(example.actions) == task.n_actions


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_gold_env_spec_compiles_and_reproduces_the_reference(task_id: str) -> None:
    spec_pkg = pytest.importorskip("alamp.spec", reason="alamp.spec (issue 7) is not there yet")
    if not hasattr(spec_pkg, "compile_spec"):
        pytest.skip("alamp.spec has no compile_spec yet")
    task = load_task(task_id)
    compiled = spec_pkg.compile_spec(task.gold.env_spec)
    assert compiled.action_space.n == task.n_actions
    assert fidelity(task, compiled.make_env, n_samples=60, seed=1, repeats=16) == 1.0


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_gold_expressions_are_in_the_spec_language(task_id: str) -> None:
    """What the small model learns to write from the gold demos is what the spec compiler accepts."""
    expr = pytest.importorskip("alamp.spec.expr", reason="alamp.spec (issue 7) is not there yet")
    from alamp.assemble import parse_assignments

    gold = load_task(task_id).gold
    texts = [c.expression for c in gold.constraints] + [gold.sar.reward]
    texts += [v.initial for v in gold.variables if v.initial]
    texts += [u.expr for a in gold.sar.actions for u in parse_assignments(a.effect)[0]]
    problems: list[str] = []
    for i, text in enumerate(texts):
        expr.parse_expression(text, label=f"{task_id}[{i}]", declared=set(), problems=problems, normalisations=[])
    assert problems == []
    # The termination constraints are the conditions that END an episode; the MDP states the same ones.
    assert gold.mdp.termination == [c.expression for c in gold.constraints if c.kind == "termination"]


def test_task_to_example_carries_description_and_gold() -> None:
    task = load_task("inventory")
    example = task_to_example(task)
    assert set(example.inputs().keys()) == {"description"}
    assert example.task_id == "inventory"
    for name in GOLD_FIELDS:
        assert getattr(example, name) == getattr(task.gold, name)
    assert example.sar.observations == ["stock"]


def test_load_task_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="known tasks"):
        load_task("no_such_task")
    data = yaml.safe_load(Path(alamp.envs.__file__).parents[2].joinpath("data/tasks/drone.yaml").read_text())
    data["reference"]["success_threshold"] = 100.0  # above the best known return: unreachable
    (tmp_path / "drone.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="success_threshold"):
        load_task("drone", root=tmp_path)
    data["reference"]["success_threshold"] = 36.0
    data["id"] = "other"
    (tmp_path / "drone.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="differs from the file name"):
        load_task("drone", root=tmp_path)


def test_interface_mismatch_in_gold_is_refused() -> None:
    data = load_task("cartpole").model_dump()
    data["gold"]["sar"]["actions"] = list(reversed(data["gold"]["sar"]["actions"]))
    with pytest.raises(ValueError, match="actions"):
        Task.model_validate(data)
