"""The base of alamp's reference environments: a fully observed state, exogenous draws, then deterministic updates.

Every custom reference environment is written in the same shape as an :class:`alamp.schema.EnvSpec` step, so
that a task's gold spec can reproduce it literally:

1. ``_sample_draws(rng)`` samples the exogenous random quantities of one step (e.g. the demand);
2. ``_apply(state, action, draws)`` computes ``(next_state, reward, terminated)`` deterministically.

Environments whose state space is finite also list the exact distribution of the draws
(``draw_outcomes()``), which is what value iteration (:mod:`alamp.envs.planning`) needs. The observation is the
state vector, in the order the task description states it; episodes are truncated by gymnasium's ``TimeLimit``
(``max_episode_steps`` at registration), exactly as the spec's ``max_steps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["ReferenceEnv", "DrawOutcome"]

#: One joint outcome of a step's exogenous draws: its probability and the values drawn.
DrawOutcome = tuple[float, dict[str, float]]


class ReferenceEnv(gym.Env[np.ndarray, np.int64]):
    """A small, fully observed, discrete-action environment with ``set_state``/``get_state``.

    Subclasses set the class attributes and implement :meth:`_initial_state`, :meth:`_sample_draws` and
    :meth:`_apply`; finite ones also implement :meth:`draw_outcomes`.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    #: State (= observation) names, in the order the task description states them.
    state_names: ClassVar[tuple[str, ...]] = ()
    #: Bounds of each state variable (the observation space).
    state_low: ClassVar[tuple[float, ...]] = ()
    state_high: ClassVar[tuple[float, ...]] = ()
    #: True when every state variable takes integer values only (finite grid of states).
    integer_state: ClassVar[bool] = False
    #: Action names, in the order the task description states them.
    action_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        n = len(self.state_names)
        if not (n and len(self.state_low) == n and len(self.state_high) == n and self.action_names):
            raise TypeError(f"{type(self).__name__} must set state_names, state_low, state_high and action_names")
        self.observation_space = spaces.Box(
            low=np.asarray(self.state_low, dtype=np.float32),
            high=np.asarray(self.state_high, dtype=np.float32),
            dtype=np.float32,
        )
        self.action_space = spaces.Discrete(len(self.action_names))
        self._state = np.zeros(n, dtype=np.float64)

    # -- to implement ---------------------------------------------------------------------------------------

    def _initial_state(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, float]:
        return {}

    def _apply(self, state: np.ndarray, action: int, draws: dict[str, float]) -> tuple[np.ndarray, float, bool]:
        raise NotImplementedError

    def draw_outcomes(self) -> list[DrawOutcome]:
        """The exact joint distribution of one step's draws (finite environments only)."""
        raise NotImplementedError(f"{type(self).__name__} has no finite list of draw outcomes")

    # -- gymnasium API --------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._state = np.asarray(self._initial_state(self.np_random), dtype=np.float64)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = int(action)
        if not 0 <= a < self.action_space.n:
            raise ValueError(f"action {action!r} is out of range; {type(self).__name__} has {self.action_space.n}")
        draws = self._sample_draws(self.np_random)
        state, reward, terminated = self._apply(self._state.copy(), a, draws)
        self._state = np.asarray(state, dtype=np.float64)
        return self._obs(), float(reward), bool(terminated), False, {}

    def _obs(self) -> np.ndarray:
        return self._state.astype(np.float32)

    # -- state access (fidelity checks, planning) -----------------------------------------------------------

    def set_state(self, values: Sequence[float]) -> np.ndarray:
        """Put the environment in the given state (in ``state_names`` order); returns the observation."""
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.shape[0] != len(self.state_names):
            raise ValueError(
                f"set_state got {arr.shape[0]} values for {type(self).__name__}; "
                f"it needs {len(self.state_names)}: {list(self.state_names)}"
            )
        self._state = arr.copy()
        return self._obs()

    def get_state(self) -> np.ndarray:
        """The current state, in ``state_names`` order."""
        return self._state.copy()

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """A state drawn uniformly from the bounds (integers for integer-valued environments)."""
        low = np.asarray(self.state_low, dtype=np.float64)
        high = np.asarray(self.state_high, dtype=np.float64)
        if self.integer_state:
            return rng.integers(low.astype(np.int64), high.astype(np.int64) + 1).astype(np.float64)
        return rng.uniform(low, high)

    def all_states(self, *, limit: int = 10_000) -> list[np.ndarray] | None:
        """Every state of a finite environment (``None`` when not integer-valued or larger than ``limit``)."""
        if not self.integer_state:
            return None
        low = np.asarray(self.state_low, dtype=np.int64)
        high = np.asarray(self.state_high, dtype=np.int64)
        if int(np.prod(high - low + 1)) > limit:
            return None
        grid = np.stack(np.meshgrid(*(np.arange(lo, hi + 1) for lo, hi in zip(low, high, strict=True)), indexing="ij"))
        return [cell.astype(np.float64) for cell in grid.reshape(len(low), -1).T]

    def transition(
        self, state: Sequence[float], action: int, draws: dict[str, float]
    ) -> tuple[np.ndarray, float, bool]:
        """One deterministic step from ``state`` with given draws (does not touch the environment's state)."""
        next_state, reward, terminated = self._apply(np.asarray(state, dtype=np.float64).copy(), int(action), draws)
        return np.asarray(next_state, dtype=np.float64), float(reward), bool(terminated)


def poisson_outcomes(rate: float, *, tail: float = 1e-12) -> list[tuple[float, int]]:
    """``(probability, k)`` for a Poisson(rate) draw, truncated once the remaining mass is below ``tail``.

    The remaining mass is added to the last value kept so that the probabilities sum to one.
    """
    out: list[tuple[float, int]] = []
    p = float(np.exp(-rate))
    total = 0.0
    k = 0
    while True:
        out.append((p, k))
        total += p
        if 1.0 - total < tail:
            break
        k += 1
        p = p * rate / k
    last_p, last_k = out[-1]
    out[-1] = (last_p + (1.0 - total), last_k)
    return out
