"""Value iteration for alamp's finite reference environments (integer-valued states, finite draw outcomes)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from alamp.envs.base import ReferenceEnv

__all__ = ["TabularPolicy", "value_iteration"]


@dataclass
class TabularPolicy:
    """A greedy policy read from a table indexed by the (integer) state."""

    low: np.ndarray
    shape: tuple[int, ...]
    actions: np.ndarray  # flat, one action per state
    values: np.ndarray  # flat state values

    def index(self, obs: np.ndarray) -> int:
        cells = np.rint(np.asarray(obs, dtype=np.float64)).astype(np.int64) - self.low
        cells = np.clip(cells, 0, np.asarray(self.shape) - 1)
        return int(np.ravel_multi_index(tuple(cells), self.shape))

    def act(self, obs: np.ndarray) -> int:
        return int(self.actions[self.index(obs)])


def value_iteration(
    env: ReferenceEnv, *, gamma: float = 0.99, tol: float = 1e-8, max_iter: int = 100_000
) -> TabularPolicy:
    """Solve ``env`` exactly by value iteration over its whole integer state grid.

    Args:
        env: A finite reference environment (``integer_state`` and ``draw_outcomes()``).
        gamma: Discount factor; 1.0 is fine for environments whose episodes always terminate.
        tol: Stop when the largest value change is below this.
        max_iter: Safety cap on sweeps.

    Returns:
        The greedy policy with respect to the converged values.
    """
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    if not getattr(base, "integer_state", False):
        raise ValueError(f"{type(base).__name__} has no finite integer state grid; value iteration needs one")
    low = np.asarray(base.state_low, dtype=np.int64)
    high = np.asarray(base.state_high, dtype=np.int64)
    shape = tuple(int(h - lo + 1) for lo, h in zip(low, high, strict=True))
    n_states = int(np.prod(shape))
    n_actions = int(base.action_space.n)
    outcomes = base.draw_outcomes()

    # Expected reward and sparse next-state distribution for every (state, action).
    exp_reward = np.zeros((n_states, n_actions))
    rows: list[int] = []
    cols: list[int] = []
    probs: list[float] = []
    for flat, cell in enumerate(itertools.product(*(range(n) for n in shape))):
        state = np.asarray(cell, dtype=np.float64) + low
        for a in range(n_actions):
            for p, draws in outcomes:
                nxt, r, term = base.transition(state, a, draws)
                exp_reward[flat, a] += p * r
                if not term:
                    idx = np.clip(np.rint(nxt).astype(np.int64) - low, 0, np.asarray(shape) - 1)
                    rows.append(flat * n_actions + a)
                    cols.append(int(np.ravel_multi_index(tuple(idx), shape)))
                    probs.append(p)
    rows_a = np.asarray(rows, dtype=np.int64)
    cols_a = np.asarray(cols, dtype=np.int64)
    probs_a = np.asarray(probs)

    values = np.zeros(n_states)
    for _ in range(max_iter):
        cont = np.bincount(rows_a, weights=probs_a * values[cols_a], minlength=n_states * n_actions)
        q = exp_reward + gamma * cont.reshape(n_states, n_actions)
        new_values = q.max(axis=1)
        delta = float(np.max(np.abs(new_values - values)))
        values = new_values
        if delta < tol:
            break
    cont = np.bincount(rows_a, weights=probs_a * values[cols_a], minlength=n_states * n_actions)
    q = exp_reward + gamma * cont.reshape(n_states, n_actions)
    return TabularPolicy(low=low, shape=shape, actions=q.argmax(axis=1), values=values)
