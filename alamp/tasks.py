"""The task set: one YAML file per task in ``data/tasks/``, validated by the pydantic ``Task`` model.

A task is a free-form description (what a user would write), a reference environment that no generated code can
fool (a gymnasium id, built-in or registered by :mod:`alamp.envs`), and the gold output of every agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alamp.paths import tasks_dir
from alamp.schema import Constraint, EnvSpec, MDPModel, Objective, Parameter, SARSpec, Variable

__all__ = [
    "Split",
    "KnownPolicySpec",
    "ReferenceSpec",
    "GoldOutputs",
    "Task",
    "GOLD_FIELDS",
    "load_task",
    "load_tasks",
    "task_ids",
    "task_to_example",
]

Split = Literal["train", "dev", "test"]
SPLITS: tuple[str, ...] = ("train", "dev", "test")

#: Names of the gold fields, in pipeline order (they are also the keys of ``task_to_example``'s labels).
GOLD_FIELDS: tuple[str, ...] = ("parameters", "objectives", "variables", "constraints", "mdp", "sar", "env_spec")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KnownPolicySpec(_Strict):
    """The best known policy of the reference environment (see :data:`alamp.envs.KNOWN_POLICIES`)."""

    name: str = Field(description="short name, e.g. 'max-weight scheduling'")
    kind: Literal["optimal", "heuristic"]


class ReferenceSpec(_Strict):
    """The reference environment a policy is graded on, and the returns that scale the grade."""

    env_id: str = Field(description="gymnasium id; alamp ids are registered by importing alamp.envs")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of gymnasium.make")
    max_episode_steps: int = Field(gt=0, description="episode length limit on the reference (as registered)")
    success_threshold: float = Field(description="mean return over eval_episodes that counts as success")
    eval_episodes: int = Field(default=100, gt=0)
    random_return: float = Field(description="mean return of a uniformly random policy")
    best_return: float = Field(description="mean return of the best known policy")
    best_policy: KnownPolicySpec
    stochastic: bool = Field(description="whether a step from a given state and action is random")

    @model_validator(mode="after")
    def _ordered(self) -> ReferenceSpec:
        if not self.best_return > self.random_return:
            raise ValueError(
                f"best_return {self.best_return} must exceed random_return {self.random_return}; "
                "otherwise the task cannot tell a learned policy from a random one"
            )
        if not self.random_return < self.success_threshold <= self.best_return:
            raise ValueError(
                f"success_threshold {self.success_threshold} must lie in (random_return {self.random_return}, "
                f"best_return {self.best_return}]"
            )
        return self


class GoldOutputs(_Strict):
    """The expected output of each agent, as the program's schema models."""

    parameters: list[Parameter]
    objectives: list[Objective]
    variables: list[Variable]
    constraints: list[Constraint]
    mdp: MDPModel
    sar: SARSpec
    env_spec: EnvSpec


class Task(_Strict):
    """One task of the set (see ``data/tasks/*.yaml``)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    split: Split
    description: str
    reference: ReferenceSpec
    gold: GoldOutputs

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        if len(v.split()) < 30:
            raise ValueError("description is too short to state the problem; write it as a user would")
        from alamp.description_check import check_description

        return check_description(v, source="the task's description")

    @model_validator(mode="after")
    def _interface_agrees(self) -> Task:
        sar, spec = self.gold.sar, self.gold.env_spec
        if [a.name for a in sar.actions] != [a.name for a in spec.actions]:
            raise ValueError(f"task {self.id}: gold SAR actions and env_spec actions differ (names or order)")
        if len(sar.observations) != len(spec.observation):
            raise ValueError(f"task {self.id}: gold SAR has {len(sar.observations)} observations, env_spec "
                             f"{len(spec.observation)}")
        if list(self.gold.mdp.actions) != [a.name for a in sar.actions]:
            raise ValueError(f"task {self.id}: gold MDP actions differ from the SAR actions")
        if spec.max_steps != self.reference.max_episode_steps:
            raise ValueError(f"task {self.id}: env_spec.max_steps {spec.max_steps} differs from the reference's "
                             f"max_episode_steps {self.reference.max_episode_steps}")
        return self

    @property
    def n_actions(self) -> int:
        return len(self.gold.sar.actions)


def _task_path(task_id: str, root: Path | None) -> Path:
    return (root or tasks_dir()) / f"{task_id}.yaml"


def task_ids(*, root: Path | None = None) -> list[str]:
    """Ids of every task file in ``root`` (default ``data/tasks``), sorted."""
    return sorted(p.stem for p in (root or tasks_dir()).glob("*.yaml"))


def load_task(task_id: str, *, root: Path | None = None) -> Task:
    """Load and validate ``data/tasks/<task_id>.yaml``.

    Raises:
        FileNotFoundError: No such task (the message lists the known ids).
        ValueError: The file does not match the ``Task`` schema, or its ``id`` differs from its file name.
    """
    path = _task_path(task_id, root)
    if not path.is_file():
        raise FileNotFoundError(f"no task {task_id!r} in {path.parent}; known tasks: {task_ids(root=root)}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path} is not a valid task file:\n{exc}") from exc
    if task.id != path.stem:
        raise ValueError(f"{path}: id {task.id!r} differs from the file name; rename one of them")
    return task


def load_tasks(split: Split | None = None, *, root: Path | None = None) -> list[Task]:
    """Every task (or those of one split), sorted by id."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    tasks = [load_task(t, root=root) for t in task_ids(root=root)]
    return [t for t in tasks if split is None or t.split == split]


def task_to_example(task: Task) -> Any:
    """A ``dspy.Example`` of ``task`` whose only input is ``description``.

    Fields (the labels are the gold outputs as schema model instances, so per-agent demos can be built from them):

    - ``description`` (input): the user's text;
    - ``task_id``: the task's id (the metric looks the task up by it);
    - ``parameters``, ``objectives``, ``variables``, ``constraints`` (lists of schema models), ``mdp``
      (:class:`MDPModel`), ``sar`` (:class:`SARSpec`), ``env_spec`` (:class:`EnvSpec`): the gold output of each
      agent, named as in :data:`GOLD_FIELDS`.
    """
    import dspy

    labels = {name: getattr(task.gold, name) for name in GOLD_FIELDS}
    return dspy.Example(description=task.description, task_id=task.id, **labels).with_inputs("description")
