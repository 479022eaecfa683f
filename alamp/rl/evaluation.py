"""Greedy evaluation on a vectorised environment: one episode per sub-environment, all side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gymnasium.vector import VectorEnv

from alamp.rl.policy import QPolicy
from alamp.rl.vec import EnvSource, VecEnvFactory, make_vector_env

__all__ = ["EvalResult", "BatchedEvaluator", "evaluate_policy", "run_episodes"]

# Sub-environments per evaluation batch: more episodes run in several rounds.
MAX_EVAL_BATCH = 128


@dataclass(frozen=True)
class EvalResult:
    """Undiscounted episode returns of a greedy policy."""

    mean: float
    std: float
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


def run_episodes(*, policy: QPolicy, envs: VectorEnv, seed: int, max_steps: int = 1_000_000) -> tuple[
    np.ndarray, np.ndarray
]:
    """Play the first episode of every sub-environment greedily; return their returns and lengths.

    Works with either autoreset convention because every sub-environment's first episode is all that counts.

    Args:
        policy: The policy.
        envs: The vector environment; sub-environment ``i`` is reset with seed ``seed + i``.
        seed: Base seed.
        max_steps: Safety cap on vector steps (an environment without time limit would otherwise loop forever).
    """
    observations, _ = envs.reset(seed=seed)
    num_envs = envs.num_envs
    returns = np.zeros(num_envs, dtype=np.float64)
    lengths = np.zeros(num_envs, dtype=np.int64)
    running = np.ones(num_envs, dtype=bool)
    for _ in range(max_steps):
        actions = policy.act_batch(observations)
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        returns += np.where(running, rewards, 0.0)
        lengths += running
        running &= ~(np.asarray(terminated) | np.asarray(truncated))
        if not running.any():
            break
    return returns, lengths


class BatchedEvaluator:
    """Evaluates policies repeatedly on the same vector environment(s) (built once, reused each call).

    Args:
        make_env: A gymnasium id or a zero-argument env factory.
        episodes: Episodes per evaluation (at most ``MAX_EVAL_BATCH`` side by side; more run in rounds).
        make_vec_env: Optional ``num_envs -> VectorEnv`` factory (e.g. a numpy-batched compiled spec).
    """

    def __init__(self, *, make_env: EnvSource, episodes: int, make_vec_env: VecEnvFactory | None = None) -> None:
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        self.episodes = episodes
        self._rounds = [MAX_EVAL_BATCH] * (episodes // MAX_EVAL_BATCH)
        if episodes % MAX_EVAL_BATCH:
            self._rounds.append(episodes % MAX_EVAL_BATCH)
        self._envs = {
            size: make_vector_env(make_env=make_env, num_envs=size, make_vec_env=make_vec_env)
            for size in set(self._rounds)
        }

    def __call__(self, policy: QPolicy, *, seed: int) -> EvalResult:
        """Evaluate ``policy``; episode ``i`` is seeded ``seed + i``."""
        all_returns: list[np.ndarray] = []
        all_lengths: list[np.ndarray] = []
        offset = 0
        for size in self._rounds:
            returns, lengths = run_episodes(policy=policy, envs=self._envs[size], seed=seed + offset)
            all_returns.append(returns)
            all_lengths.append(lengths)
            offset += size
        returns = np.concatenate(all_returns)
        return EvalResult(
            mean=float(returns.mean()),
            std=float(returns.std()),
            returns=returns.tolist(),
            lengths=np.concatenate(all_lengths).tolist(),
        )

    def close(self) -> None:
        """Close the vector environments."""
        for envs in self._envs.values():
            envs.close()


def evaluate_policy(
    policy: QPolicy,
    *,
    make_env: EnvSource,
    episodes: int = 100,
    seed: int = 0,
    make_vec_env: VecEnvFactory | None = None,
) -> EvalResult:
    """Mean and spread of the greedy policy's return over ``episodes`` episodes, run side by side.

    Args:
        policy: The policy to evaluate.
        make_env: A gymnasium id or a zero-argument env factory.
        episodes: Number of episodes (episode ``i`` is seeded ``seed + i``).
        seed: Base seed.
        make_vec_env: Optional ``num_envs -> VectorEnv`` factory (e.g. a numpy-batched compiled spec).
    """
    evaluator = BatchedEvaluator(make_env=make_env, episodes=episodes, make_vec_env=make_vec_env)
    try:
        return evaluator(policy, seed=seed)
    finally:
        evaluator.close()
