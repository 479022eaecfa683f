"""Building vectorised environments from what callers hand in: a gymnasium id, an env factory, or a vector factory.

Training and evaluation both step many environments at once so that one batched forward pass picks all actions.
A gymnasium id with a numpy-batched implementation (CartPole) uses it; otherwise sub-environments run in a
``SyncVectorEnv`` with same-step autoreset. Both autoreset conventions are handled downstream:

* same-step: a finished sub-environment returns its reset observation, the true final one is in
  ``info["final_obs"]``;
* next-step: it returns the true final observation, and the *next* step resets it (that step is not a transition).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

__all__ = ["EnvSource", "VecEnvFactory", "make_vector_env", "autoreset_mode", "reward_threshold"]

EnvSource = str | Callable[[], gym.Env]
VecEnvFactory = Callable[[int], VectorEnv]


def _env_factory(make_env: EnvSource) -> Callable[[], gym.Env]:
    if isinstance(make_env, str):
        env_id = make_env
        # The passive checker costs a few microseconds per step and the envs are registered ones, so skip it.
        return lambda: gym.make(env_id, disable_env_checker=True)
    if callable(make_env):
        return make_env
    raise TypeError(f"make_env must be a gymnasium id or a callable returning an env, got {make_env!r}")


def make_vector_env(*, make_env: EnvSource, num_envs: int, make_vec_env: VecEnvFactory | None = None) -> VectorEnv:
    """A vector environment of ``num_envs`` copies.

    Args:
        make_env: A gymnasium id or a zero-argument callable returning a fresh environment.
        num_envs: How many sub-environments.
        make_vec_env: Optional ``num_envs -> VectorEnv`` factory; used when given.

    Returns:
        The vector environment (its ``metadata["autoreset_mode"]`` says how it resets).
    """
    if make_vec_env is not None:
        return make_vec_env(num_envs)
    if isinstance(make_env, str):
        spec = gym.spec(make_env)
        if spec.vector_entry_point is not None:
            return gym.make_vec(make_env, num_envs=num_envs, vectorization_mode="vector_entry_point")
    factory = _env_factory(make_env)
    return SyncVectorEnv([factory] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)


def autoreset_mode(envs: VectorEnv) -> AutoresetMode:
    """The vector env's autoreset convention (gymnasium's default, next-step, when it does not say).

    Raises:
        ValueError: Autoreset is disabled (training needs the vector env to reset finished sub-environments).
    """
    mode = AutoresetMode(envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
    if mode == AutoresetMode.DISABLED:
        raise ValueError(
            f"vector env {envs} has autoreset disabled; give one with same-step or next-step autoreset "
            "(gymnasium.vector.AutoresetMode.SAME_STEP)"
        )
    return mode


def reward_threshold(make_env: Any, envs: VectorEnv | None = None) -> float | None:
    """The registered ``reward_threshold`` of the environment, if it has one."""
    spec = None
    if isinstance(make_env, str):
        spec = gym.spec(make_env)
    elif envs is not None:
        spec = getattr(envs, "spec", None)
    threshold = getattr(spec, "reward_threshold", None)
    return float(threshold) if threshold is not None else None
