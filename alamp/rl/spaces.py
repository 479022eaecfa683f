"""Observation encoding and (de)serialisation of gymnasium spaces for saved policies.

The Q-network sees a flat float32 vector. Box observations are flattened (and, optionally, dimensions with finite,
moderate bounds rescaled to [-1, 1], which matters for e.g. MountainCar, whose velocity lives in +-0.07); Discrete
observations (FrozenLake, Taxi) are one-hot encoded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["ObservationEncoder", "space_to_json", "space_from_json", "check_discrete_actions"]

# Bounds wider than this are treated as "unbounded" for normalisation: rescaling by them would squash the signal.
_MAX_NORMALISED_WIDTH = 1e4


class ObservationEncoder:
    """Turns a batch of raw observations into the float32 matrix the Q-network reads.

    Args:
        observation_space: A ``Box`` or ``Discrete`` space.
        normalize: Rescale Box dimensions whose bounds are finite and at most 1e4 apart to [-1, 1].

    Raises:
        TypeError: The space is neither Box nor Discrete (the message names it and the fix).
    """

    def __init__(self, observation_space: spaces.Space, *, normalize: bool) -> None:
        self.observation_space = observation_space
        if isinstance(observation_space, spaces.Discrete):
            self.kind = "discrete"
            self.n = int(observation_space.n)
            self.start = int(observation_space.start)
            self.dim = self.n
            self._eye = np.eye(self.n, dtype=np.float32)
        elif isinstance(observation_space, spaces.Box):
            self.kind = "box"
            self.dim = int(np.prod(observation_space.shape)) if observation_space.shape else 1
            low = np.asarray(observation_space.low, dtype=np.float64).reshape(-1)
            high = np.asarray(observation_space.high, dtype=np.float64).reshape(-1)
            scalable = np.isfinite(low) & np.isfinite(high) & (high - low > 0) & (high - low <= _MAX_NORMALISED_WIDTH)
            if not normalize:
                scalable[:] = False
            with np.errstate(invalid="ignore", over="ignore"):  # inf bounds: masked out by `scalable`
                self._offset = np.where(scalable, (high + low) / 2.0, 0.0).astype(np.float32)
            self._scale = np.where(scalable, 2.0 / np.where(scalable, high - low, 1.0), 1.0).astype(np.float32)
            self._identity = not scalable.any()
        else:
            raise TypeError(
                f"observation space {observation_space} is not supported: the DQN reads Box or Discrete observations; "
                "flatten the observation (gymnasium.wrappers.FlattenObservation) first"
            )

    def __call__(self, observations: Any) -> np.ndarray:
        """Encode a batch (leading axis = batch) into a float32 array of shape ``[batch, dim]``."""
        if self.kind == "discrete":
            index = np.asarray(observations, dtype=np.int64).reshape(-1) - self.start
            return self._eye[index]
        flat = np.asarray(observations, dtype=np.float32).reshape(-1, self.dim)
        if self._identity:
            return flat
        return (flat - self._offset) * self._scale


def check_discrete_actions(action_space: spaces.Space) -> int:
    """The number of actions of a ``Discrete`` action space.

    Raises:
        TypeError: The action space is not Discrete (DQN picks one of finitely many actions).
    """
    if not isinstance(action_space, spaces.Discrete):
        raise TypeError(
            f"action space {action_space} is not supported: DQN needs a Discrete action space; "
            "discretise the actions of the environment first"
        )
    if int(action_space.start) != 0:
        raise TypeError(f"action space {action_space} starts at {action_space.start}; DQN expects actions 0..n-1")
    return int(action_space.n)


def _floats_to_json(values: np.ndarray) -> list[Any]:
    # JSON has no infinity: store non-finite bounds as strings so the file stays standard JSON.
    return [v if math.isfinite(v) else str(v) for v in np.asarray(values, dtype=np.float64).reshape(-1).tolist()]


def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A JSON-serialisable description of a Box or Discrete space."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _floats_to_json(space.low),
            "high": _floats_to_json(space.high),
        }
    raise TypeError(f"cannot serialise space {space}: only Box and Discrete spaces are supported")


def space_from_json(data: dict[str, Any]) -> spaces.Space:
    """Rebuild a space written by :func:`space_to_json`."""
    if data["type"] == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if data["type"] == "Box":
        shape = tuple(data["shape"])
        dtype = np.dtype(data["dtype"])
        low = np.array([float(v) for v in data["low"]], dtype=np.float64).reshape(shape)
        high = np.array([float(v) for v in data["high"]], dtype=np.float64).reshape(shape)
        if np.issubdtype(dtype, np.floating):  # saved from this dtype, so the cast is exact
            low, high = low.astype(dtype), high.astype(dtype)
        return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    raise ValueError(f"unknown space type {data['type']!r} in a saved policy; expected 'Box' or 'Discrete'")
