"""``set_state``/``get_state`` for any reference environment: alamp's own, and gymnasium's CartPole and MountainCar."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np

__all__ = ["set_state", "get_state", "supports_state"]

# Gymnasium built-ins whose whole Markov state is ``env.unwrapped.state`` (a float vector, = the observation).
_STATE_VECTOR_ENVS = ("CartPoleEnv", "MountainCarEnv")


def _base(env: gym.Env) -> gym.Env:
    return env.unwrapped if hasattr(env, "unwrapped") else env


def supports_state(env: gym.Env) -> bool:
    """Whether :func:`set_state` works on ``env``."""
    base = _base(env)
    return callable(getattr(base, "set_state", None)) or type(base).__name__ in _STATE_VECTOR_ENVS


def set_state(env: gym.Env, values: Sequence[float]) -> np.ndarray:
    """Put ``env`` in the given state and return the observation it would now emit.

    Args:
        env: An alamp reference environment, a compiled spec environment, or gymnasium's CartPole/MountainCar
            (wrappers are looked through).
        values: The state, in the environment's declared state order.

    Raises:
        TypeError: If the environment offers no way to set its state.
    """
    base = _base(env)
    setter = getattr(base, "set_state", None)
    if callable(setter):
        obs = setter(values)
        return np.asarray(obs if obs is not None else get_state(env), dtype=np.float64)
    if type(base).__name__ in _STATE_VECTOR_ENVS:
        base.state = np.asarray(values, dtype=np.float64).copy()  # type: ignore[attr-defined]
        return np.asarray(base.state, dtype=np.float64)  # type: ignore[attr-defined]
    raise TypeError(f"{type(base).__name__} has no set_state; give it set_state(values) in declared state order")


def get_state(env: gym.Env) -> np.ndarray:
    """The state of ``env`` in its declared order (see :func:`set_state`)."""
    base = _base(env)
    getter = getattr(base, "get_state", None)
    if callable(getter):
        return np.asarray(getter(), dtype=np.float64)
    if type(base).__name__ in _STATE_VECTOR_ENVS:
        return np.asarray(base.state, dtype=np.float64).copy()  # type: ignore[attr-defined]
    raise TypeError(f"{type(base).__name__} has no get_state; give it get_state() in declared state order")
