"""Steps per second: the spec-compiled batched CartPole against gymnasium's own vectorised CartPole.

Usage::

    .venv/bin/python bench/spec_vs_gym.py [--steps 3000] [--batch-sizes 1 8 64 256] [--repeats 3]

Both environments get the same random actions (pre-drawn, so drawing them is not timed); env-steps per second
count ``batch_size`` env-steps per ``step`` call. Prints a Markdown table with the ratio compiled / gymnasium,
one row per batch size and backend (``numpy``; ``numba`` when installed: ``pip install 'alamp[fast]'``), and
the numba JIT compile time (paid once per spec and process, not part of the timed runs).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from alamp.spec import compile_spec
from alamp.spec.examples import cartpole_spec
from alamp.spec.numba_backend import numba_available


def _steps_per_second(env: gym.vector.VectorEnv, actions: np.ndarray, repeats: int) -> float:
    """Best of ``repeats`` timed runs (the machine is shared; the best run is the least disturbed one)."""
    best = 0.0
    for repeat in range(repeats):
        env.reset(seed=repeat)
        start = time.perf_counter()
        for action in actions:
            env.step(action)
        elapsed = time.perf_counter() - start
        best = max(best, actions.size / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="step calls per timed run")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    compiled = compile_spec(cartpole_spec())
    backends = ["numpy", "numba"] if numba_available() else ["numpy"]
    if "numba" in backends:
        start = time.perf_counter()
        kernels = compiled.numba_kernels()
        print(
            f"numba kernels ready in {kernels.compile_seconds:.2f} s "
            f"({time.perf_counter() - start:.2f} s with imports): "
            f"a JIT compile, or a load from {kernels.source_file.parent if kernels.source_file else 'memory'} "
            "if this spec was compiled before"
        )
    else:
        print("numba is not installed (pip install 'alamp[fast]'): numpy backend only")
    rng = np.random.default_rng(0)
    print()
    print("| batch size | backend | compiled spec (env-steps/s) | gymnasium CartPoleVectorEnv (env-steps/s) | ratio |")
    print("|---:|---|---:|---:|---:|")
    for batch in args.batch_sizes:
        actions = rng.integers(0, 2, size=(args.steps, batch))
        theirs = gym.make_vec("CartPole-v1", num_envs=batch, vectorization_mode="vector_entry_point")
        theirs_sps = _steps_per_second(theirs, actions, args.repeats)
        for backend in backends:
            ours = compiled.make_vec(batch, backend=backend)
            ours_sps = _steps_per_second(ours, actions, args.repeats)
            print(f"| {batch} | {backend} | {ours_sps:,.0f} | {theirs_sps:,.0f} | {ours_sps / theirs_sps:.2f}x |")

if __name__ == "__main__":
    main()
