"""Choosing among environment candidates by agreement of behaviour.

The small model's samples vary a lot; the correct ones agree with each other while wrong ones scatter (measured on
the embedded model: grouping 8 samples by their behaviour on shared probe states, the largest group was the exact
dynamics for both tasks tried). So the program samples ``num_candidates`` environments, keeps those that pass the
checks, steps each from the same starts with the same actions, groups candidates whose observations, rewards and
terminations agree, and takes the largest group (ties: the group whose first member came first). This is the
clustering AlphaCode used to pick programs: it needs no reference and no extra LM call.

The group sizes are recorded; ``agreement`` (size of the chosen group / candidates compared) is the run's
confidence in its environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Behaviour", "Consensus", "behaviour", "agree", "choose"]


@dataclass(frozen=True)
class Behaviour:
    """What an environment does from shared probe starts under a shared action sequence.

    Attributes:
        observations: ``(probes, steps + 1, obs_dim)``; NaN after the episode ended.
        rewards: ``(probes, steps)``; NaN after the episode ended.
        ended: ``(probes, steps)``; whether the episode ended (terminated or truncated) at that step.
    """

    observations: np.ndarray
    rewards: np.ndarray
    ended: np.ndarray


def behaviour(make_env: Callable[[], Any], *, probes: int = 8, steps: int = 12, seed: int = 0) -> Behaviour:
    """Step a fresh environment from ``probes`` seeded resets under one fixed random action sequence.

    Every candidate sees the same reset seeds, the same actions and the same random stream per step, so two
    candidates with the same dynamics (and the same order of random draws) leave identical traces.
    """
    env = make_env()
    try:
        n_actions = int(env.action_space.n)
        actions = np.random.default_rng(seed).integers(n_actions, size=(probes, steps))
        first, _ = env.reset(seed=seed)
        obs_dim = int(np.asarray(first, dtype=np.float64).size)
        observations = np.full((probes, steps + 1, obs_dim), np.nan)
        rewards = np.full((probes, steps), np.nan)
        ended = np.zeros((probes, steps), dtype=bool)
        for probe in range(probes):
            obs, _ = env.reset(seed=seed + probe)
            observations[probe, 0] = np.asarray(obs, dtype=np.float64).reshape(-1)
            for t in range(steps):
                env.np_random = np.random.default_rng([seed, probe, t])
                obs, reward, terminated, truncated, _ = env.step(int(actions[probe, t]))
                observations[probe, t + 1] = np.asarray(obs, dtype=np.float64).reshape(-1)
                rewards[probe, t] = float(reward)
                if terminated or truncated:
                    ended[probe, t] = True
                    break
        return Behaviour(observations=observations, rewards=rewards, ended=ended)
    finally:
        env.close()


def agree(a: Behaviour, b: Behaviour, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Whether two behaviours are the same up to floating-point noise (same shapes, ends, values)."""
    if a.observations.shape != b.observations.shape or not np.array_equal(a.ended, b.ended):
        return False
    return bool(
        np.allclose(a.observations, b.observations, rtol=rtol, atol=atol, equal_nan=True)
        and np.allclose(a.rewards, b.rewards, rtol=rtol, atol=atol, equal_nan=True)
    )


@dataclass(frozen=True)
class Consensus:
    """The grouping of candidates and the one chosen.

    Attributes:
        groups: Groups of candidate positions (indices into the list given to ``choose``), largest first.
        chosen: The position of the chosen candidate (the first member of the largest group).
    """

    groups: list[list[int]] = field(default_factory=list)
    chosen: int = 0

    @property
    def sizes(self) -> list[int]:
        return [len(g) for g in self.groups]

    @property
    def agreement(self) -> float:
        """Share of the compared candidates in the chosen group (1.0 for a single candidate)."""
        total = sum(self.sizes)
        return len(self.groups[0]) / total if total else 0.0

    def as_record(self, labels: Sequence[Any] | None = None) -> dict[str, Any]:
        """JSON-ready summary; ``labels`` name the candidates (e.g. their sample numbers) instead of positions."""

        def name(i: int) -> Any:
            return labels[i] if labels is not None else i

        return {
            "groups": self.sizes,
            "members": [[name(i) for i in g] for g in self.groups],
            "chosen": name(self.chosen),
            "agreement": round(self.agreement, 3),
        }


def choose(behaviours: Sequence[Behaviour], *, rtol: float = 1e-5) -> Consensus:
    """Group candidates whose behaviours agree; the largest group wins, ties going to the earlier group.

    Args:
        behaviours: One per candidate that passed the checks, in sampling order.

    Returns:
        The grouping and the chosen candidate's position. Raises ``ValueError`` on an empty list.
    """
    if not behaviours:
        raise ValueError("no candidates to choose from: only candidates that passed the checks are compared")
    groups: list[list[int]] = []
    for i, candidate in enumerate(behaviours):
        for group in groups:
            if agree(behaviours[group[0]], candidate, rtol=rtol):
                group.append(i)
                break
        else:
            groups.append([i])
    # sorted() is stable and groups are in order of their first member: ties keep the earlier group first.
    ordered = sorted(groups, key=len, reverse=True)
    return Consensus(groups=ordered, chosen=ordered[0][0])
