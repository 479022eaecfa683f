"""Demos chosen per description: each agent sees the labeled demo of the train task whose description is nearest.

A compiled program's demo is what the small model copies most (its effects, its names, its form of the step). One
fixed demo for every input, the shortest train task's (a gridworld for the Env agent), gave a physics or queueing
description a gridworld's answer to copy. ``PerAgentLabeledFewShot(select="nearest")`` keeps every train task's
demo in each predictor as a pool (each marked with :data:`POOL_KEY`, the number to use per call); while the program
runs on one description, :func:`nearest_demos` puts only the ``k`` pool demos whose descriptions are nearest to it
(TF-IDF cosine over words) in front of the agents, and restores the pool afterwards. The pool is saved and loaded
with the program like any demos, so the artifact itself says how it is used.

Hand-rolled rather than ``dspy.KNNFewShot``: that one needs an embedding model (none may be downloaded here) and
compiles a ``BootstrapFewShot`` on every call; twenty lines of word counts choose well among a few dozen tasks.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["POOL_KEY", "nearest", "nearest_demos"]

#: Demo key marking a pool demo; its value is how many pool demos an agent sees per call.
POOL_KEY = "demo_pool_k"

_WORD = re.compile(r"[a-z][a-z_]{2,}")


def _words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text.lower()))


def nearest(query: str, documents: Sequence[str], k: int) -> list[int]:
    """Indices of the ``k`` documents nearest to ``query`` (ties: the earlier one).

    TF-IDF cosine over words of three letters or more: sublinear counts (``1 + log c``) and ``idf = log(n / df)``, so
    a word every document uses weighs nothing and a long description full of common words does not win by length.
    """
    bags = [_words(d) for d in documents]
    n = len(bags)
    df = Counter(word for bag in bags for word in bag)

    def vector(bag: Counter[str]) -> dict[str, float]:
        weights = {w: (1.0 + math.log(c)) * math.log(n / df[w]) for w, c in bag.items() if df.get(w)}
        return {w: x for w, x in weights.items() if x > 0}

    def norm(v: dict[str, float]) -> float:
        return math.sqrt(sum(x * x for x in v.values())) or 1.0

    q = vector(_words(query))
    q_norm = norm(q)
    scores = []
    for i, bag in enumerate(bags):
        d = vector(bag)
        scores.append((-sum(q.get(w, 0.0) * x for w, x in d.items()) / (q_norm * norm(d)), i))
    return [i for _, i in sorted(scores)[:k]]


@contextmanager
def nearest_demos(program: Any, description: str) -> Iterator[dict[str, list[int]]]:
    """While inside, each predictor of ``program`` with pool demos holds only the nearest ones (plus its other demos).

    Args:
        program: A ``dspy.Module``.
        description: The description the program is running on.

    Yields:
        Predictor name -> indices (into its pool) of the demos chosen, for the run's record.
    """
    saved: dict[str, list[Any]] = {}
    chosen: dict[str, list[int]] = {}
    # Most agents' pools come from the same train tasks: rank each distinct pool once.
    ranked: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for name, predictor in program.named_predictors():
        pool = [d for d in predictor.demos if _pool_k(d)]
        if not pool:
            continue
        saved[name] = predictor.demos
        key = (tuple(str(d.get("description", "")) for d in pool), max(_pool_k(d) for d in pool))
        if key not in ranked:
            ranked[key] = nearest(description, list(key[0]), key[1])
        picked = chosen[name] = ranked[key]
        predictor.demos = [d for d in predictor.demos if not _pool_k(d)] + [pool[i] for i in picked]
    try:
        yield chosen
    finally:
        for name, predictor in program.named_predictors():
            if name in saved:
                predictor.demos = saved[name]


def _pool_k(demo: Any) -> int:
    getter = getattr(demo, "get", None)
    value = getter(POOL_KEY, 0) if getter is not None else 0
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
