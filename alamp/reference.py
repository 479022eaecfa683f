"""Grade a run of your own description against a simulator you already have (``alamp.run reference=<gym id>``).

A task of ``data/tasks/`` carries its reference environment, success threshold and gold outputs. A description
of your own has none of these; ``reference=CartPole-v1`` names the gymnasium environment to grade against, and the
run's verdict then holds what can be measured without gold outputs: ``fidelity`` and ``start_fidelity`` of the
generated environment's transitions and start states (compiler route; needs a reference alamp can put into a given
state, see :mod:`alamp.envs.state`), and ``policy_success`` of the trained policy on the reference.

The generated environment observes and acts in the order your description states; when that is not the
reference's order, ``reference_obs_order`` / ``reference_action_order`` say, for each of the generated
environment's observations (actions), which index of the reference's it is. ``reference_threshold`` is the mean
return that counts as success (default: the id's registered ``reward_threshold``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["ReferenceOptionError", "ReorderedEnv", "UserReference", "user_reference", "grade_against_reference"]

_RANDOM_EPISODES = 20


class ReferenceOptionError(ValueError):
    """The reference options are unusable (unknown id, no threshold, a bad order); the message says what to do."""


def _permutation(order: Sequence[int] | None, size: int, *, option: str) -> list[int] | None:
    if order is None:
        return None
    order = [int(i) for i in order]
    if sorted(order) != list(range(size)):
        raise ReferenceOptionError(
            f"{option}={order} must list each of the reference's {size} indices 0..{size - 1} exactly once "
            f"(entry i: which reference index the generated environment's entry i is)"
        )
    return order


class ReorderedEnv(gym.Env):
    """A reference environment seen through the generated environment's observation and action order.

    Observation ``i`` is the reference's ``obs_order[i]``; action ``i`` is the reference's ``action_order[i]``;
    ``set_state``/``get_state`` use the same order when the reference's state vector is its observation (as for
    CartPole and MountainCar).

    Args:
        env_id: The gymnasium id of the reference.
        obs_order: Reference observation index of each generated observation (None: the same order).
        action_order: Reference action index of each generated action (None: the same order).
        max_episode_steps: Time limit (None: the id's registered one).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        env_id: str,
        obs_order: Sequence[int] | None = None,
        action_order: Sequence[int] | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        kwargs = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}
        self.inner = gym.make(env_id, **kwargs)
        self.obs_order = list(obs_order) if obs_order is not None else None
        self.action_order = list(action_order) if action_order is not None else None
        space = self.inner.observation_space
        if self.obs_order is not None and isinstance(space, gym.spaces.Box):
            space = gym.spaces.Box(space.low[self.obs_order], space.high[self.obs_order], dtype=space.dtype)
        self.observation_space = space
        self.action_space = self.inner.action_space

    def _obs(self, obs: Any) -> np.ndarray:
        obs = np.asarray(obs)
        return obs[self.obs_order] if self.obs_order is not None else obs

    def _action(self, action: int) -> int:
        return self.action_order[int(action)] if self.action_order is not None else int(action)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs, info = self.inner.reset(seed=seed, options=options)
        return self._obs(obs), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.inner.step(self._action(action))
        return self._obs(obs), float(reward), terminated, truncated, info

    def _state_order(self, size: int) -> list[int] | None:
        return self.obs_order if self.obs_order is not None and len(self.obs_order) == size else None

    def set_state(self, values: Sequence[float]) -> np.ndarray:
        from alamp.envs import set_state

        values = np.asarray(values, dtype=np.float64).reshape(-1)
        order = self._state_order(len(values))
        if order is not None:
            inner = np.empty_like(values)
            inner[order] = values
            values = inner
        set_state(self.inner, values)
        return self.get_state()

    def get_state(self) -> np.ndarray:
        from alamp.envs import get_state

        state = get_state(self.inner)
        order = self._state_order(len(state))
        return state[order] if order is not None else state

    def close(self) -> None:
        self.inner.close()


@dataclass
class UserReference:
    """A reference given on the command line, resolved: what grading needs, in the shape of a task's.

    Attributes:
        env_id: The gymnasium id given.
        registered_id: The id the reordered view is registered under (what grading builds).
        threshold: Mean return that counts as success.
        episodes: Evaluation episodes on the reference.
        max_episode_steps: The reference's time limit.
        random_return: Mean return of a uniformly random policy (measured).
        stochastic: Whether a step from a given state is random (measured).
        n_observations: Length of the reference's observation.
        n_actions: Number of the reference's actions.
        obs_order: See :class:`ReorderedEnv`.
        action_order: See :class:`ReorderedEnv`.
        settable: Whether alamp can put the reference into a given state (else fidelity is n/a).
    """

    env_id: str
    registered_id: str
    threshold: float
    episodes: int
    max_episode_steps: int
    random_return: float
    stochastic: bool
    n_observations: int
    n_actions: int
    obs_order: list[int] | None = None
    action_order: list[int] | None = None
    settable: bool = False
    notes: list[str] = field(default_factory=list)

    def as_task(self) -> Any:
        """The attributes of a ``Task`` that ``alamp.metric``'s reference functions read."""
        reference = SimpleNamespace(
            env_id=self.registered_id,
            kwargs={},
            max_episode_steps=self.max_episode_steps,
            success_threshold=self.threshold,
            eval_episodes=self.episodes,
            random_return=self.random_return,
            stochastic=self.stochastic,
        )
        return SimpleNamespace(id=f"reference:{self.env_id}", reference=reference)

    def make(self) -> ReorderedEnv:
        return ReorderedEnv(self.env_id, self.obs_order, self.action_order, self.max_episode_steps)


def _random_return(make: Any, episodes: int, seed: int) -> float:
    env = make()
    rng = np.random.default_rng(seed)
    returns = []
    try:
        for i in range(episodes):
            env.reset(seed=seed + i)
            total, done = 0.0, False
            while not done:
                _, reward, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
                total, done = total + float(reward), terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return float(np.mean(returns))


def _is_stochastic(env: ReorderedEnv, seed: int) -> bool:
    """Whether the same state and action lead to different outcomes under different seeds (a few probes)."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(8):
        state = env.get_state()
        action = int(rng.integers(env.action_space.n))
        outcomes = []
        for probe in range(3):
            env.reset(seed=seed + 1000 + probe)
            env.set_state(state)
            obs, reward, terminated, _, _ = env.step(action)
            outcomes.append(np.concatenate([np.asarray(obs, dtype=np.float64).reshape(-1), [reward, terminated]]))
        if not all(np.allclose(outcomes[0], other) for other in outcomes[1:]):
            return True
        env.reset(seed=seed)
        env.set_state(state)
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset(seed=seed + 7)
    return False


def user_reference(
    env_id: str,
    *,
    obs_order: Sequence[int] | None = None,
    action_order: Sequence[int] | None = None,
    threshold: float | None = None,
    episodes: int = 100,
    seed: int = 0,
) -> UserReference:
    """Resolve ``reference=`` and its options, measuring the random policy's return and whether steps are random.

    Raises:
        ReferenceOptionError: Unknown id, a continuous action space, no threshold known, or an order that is not a
            permutation of the reference's indices.
    """
    import alamp.envs  # noqa: F401  (registers alamp's own ids)
    from alamp.envs import supports_state

    try:
        registered = gym.spec(env_id)
    except gym.error.Error as exc:
        raise ReferenceOptionError(
            f"reference={env_id}: {str(exc).rstrip('.')}; give a registered gymnasium id such as CartPole-v1"
        ) from exc
    probe = gym.make(env_id)
    try:
        if not isinstance(probe.action_space, gym.spaces.Discrete):
            raise ReferenceOptionError(
                f"reference={env_id} has actions {probe.action_space}; alamp trains discrete-action policies only"
            )
        n_actions = int(probe.action_space.n)
        n_obs = int(np.prod(probe.observation_space.shape or (1,)))
        settable = supports_state(probe)
    finally:
        probe.close()
    if threshold is None:
        threshold = registered.reward_threshold
    if threshold is None or not math.isfinite(float(threshold)):
        raise ReferenceOptionError(
            f"reference={env_id} registers no reward_threshold; pass reference_threshold=<the mean return that "
            "counts as success>"
        )
    if episodes < 1:
        raise ReferenceOptionError(f"reference_episodes={episodes} must be at least 1")
    obs_order = _permutation(obs_order, n_obs, option="reference_obs_order")
    action_order = _permutation(action_order, n_actions, option="reference_action_order")
    max_steps = int(registered.max_episode_steps or 1000)
    key = hashlib.sha256(repr((env_id, obs_order, action_order, max_steps)).encode()).hexdigest()[:10]
    registered_id = f"alamp_reference/Reference{key}-v0"
    if registered_id not in gym.registry:
        gym.register(
            id=registered_id,
            entry_point=ReorderedEnv,
            kwargs={"env_id": env_id, "obs_order": obs_order, "action_order": action_order,
                    "max_episode_steps": max_steps},
        )  # fmt: skip
    ref = UserReference(
        env_id=env_id,
        registered_id=registered_id,
        threshold=float(threshold),
        episodes=int(episodes),
        max_episode_steps=max_steps,
        random_return=0.0,
        stochastic=False,
        n_observations=n_obs,
        n_actions=n_actions,
        obs_order=obs_order,
        action_order=action_order,
        settable=settable,
    )
    ref.random_return = _random_return(ref.make, min(_RANDOM_EPISODES, ref.episodes), seed)
    if settable:
        env = ref.make()
        try:
            ref.stochastic = _is_stochastic(env, seed)
        finally:
            env.close()
    return ref


def grade_against_reference(
    *, reference: UserReference, outcome: Any, seed: int = 0, fidelity_samples: int = 200
) -> dict[str, Any]:
    """The verdict of a run against a user-given reference (``alamp.metric.grade`` without the gold outputs).

    Args:
        reference: From :func:`user_reference`.
        outcome: The run's ``alamp.metric.RunOutcome``.
        seed: Seed of the reference episodes and the fidelity samples.
        fidelity_samples: Reference (state, action) pairs compared.

    Returns:
        A dict with the ``Verdict`` fields that apply (``modeling_score`` is None: there are no gold outputs),
        plus ``reference`` (the id) and ``random_return``.
    """
    from alamp.metric import LEVELS, MODELING_STAGES, fidelity, policy_on_reference, start_fidelity

    task = reference.as_task()
    messages = list(outcome.messages)
    stages = outcome.stages or {}
    modeled = all(stages.get(name) is not None for name in MODELING_STAGES)
    coded = bool(outcome.coded)
    trained = bool(outcome.trained and outcome.policy is not None)
    if not coded:
        messages.append("no environment passed the executor's checks")
    fid = start_fid = None
    if coded and outcome.make_env is not None:
        generated = outcome.make_env()
        n_obs = int(np.prod(generated.observation_space.shape or (1,)))
        n_actions = int(getattr(generated.action_space, "n", 0))
        generated.close()
        if (n_obs, n_actions) != (reference.n_observations, reference.n_actions):
            messages.append(
                f"the generated environment has {n_obs} observations and {n_actions} actions, the reference "
                f"{reference.env_id} {reference.n_observations} and {reference.n_actions}: the description's "
                "interface is not the reference's"
            )
        elif not reference.settable:
            messages.append(f"fidelity n/a: alamp cannot set the state of {reference.env_id}")
        elif fidelity_samples > 0:
            try:
                fid = fidelity(task, outcome.make_env, n_samples=fidelity_samples, seed=seed)
            except Exception as exc:  # noqa: BLE001 - a broken generated env scores 0, it must not crash grading
                fid = 0.0
                messages.append(f"fidelity check failed: {type(exc).__name__}: {exc}")
        if n_obs == reference.n_observations:
            try:
                start_fid, lines = start_fidelity(task, outcome.make_env, seed=seed)
                messages += lines
            except Exception as exc:  # noqa: BLE001 - as above
                start_fid = 0.0
                messages.append(f"start-state check failed: {type(exc).__name__}: {exc}")
    elif coded and outcome.path == "llm":
        messages.append("fidelity n/a: generated code runs only in the sandbox")
    mean = std = None
    success = False
    if trained:
        mean, std, success = policy_on_reference(
            task, outcome.policy, env_id=reference.env_id, threshold=reference.threshold, episodes=None, seed=seed,
            messages=messages,
        )  # fmt: skip
    levels = {"modeled": modeled, "coded": coded, "trained": trained, "policy_success": success}
    failed = next((name for name in LEVELS if not levels[name]), None)
    return {
        "task_id": None,
        "reference": reference.env_id,
        **levels,
        "failed_level": failed,
        "reference_return": mean,
        "reference_return_std": std,
        "threshold": reference.threshold,
        "random_return": reference.random_return,
        "normalized_return": None,
        "modeling_score": None,
        "fidelity": fid,
        "start_fidelity": start_fid,
        "path": outcome.path,
        "messages": messages,
        "graded": True,
    }
