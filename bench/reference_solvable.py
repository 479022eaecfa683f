"""Is every task solvable as stated? Random and known-policy returns, and our DQN trained on the reference itself.

For each task: the mean return of a uniformly random policy and of the known policy (value iteration, shortest
path or heuristic; see ``alamp.envs.KNOWN_POLICIES``) on the reference environment, over ``--stat-episodes``
episodes seeded 0, 1, ...; then alamp's DQN (``conf/trainer/<preset>.yaml``) trained on the reference
environment with the task's threshold as its early-stop target, and its greedy policy graded exactly as the
metric grades a run (``alamp.metric.evaluate_on_reference``, the task's ``eval_episodes``, seeds from 10_000).

    .venv/bin/python bench/reference_solvable.py                     # all tasks, one DQN seed each
    .venv/bin/python bench/reference_solvable.py --tasks drone,wireless --seeds 3 --workers 2
    .venv/bin/python bench/reference_solvable.py --no-dqn --write-returns   # refresh random/best in data/tasks

Prints a Markdown table (the one in docs/tasks.md) and, with ``--out``, writes the raw numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium as gym

from alamp.envs import RandomPolicy, known_policy
from alamp.metric import evaluate_on_reference
from alamp.paths import tasks_dir
from alamp.tasks import Task, load_task, load_tasks


def policy_returns(task: Task, episodes: int) -> dict[str, float]:
    """Mean returns of the random and the known policy on the reference."""
    ref = task.reference
    random_eval = evaluate_on_reference(task, RandomPolicy(task.n_actions, seed=1), episodes=episodes, seed=0)
    best_eval = evaluate_on_reference(task, known_policy(ref.env_id, **ref.kwargs), episodes=episodes, seed=0)
    return {"random": random_eval.mean, "best": best_eval.mean, "best_std": best_eval.std}


def train_on_reference(task: Task, *, seed: int, preset: str, total_timesteps: int | None) -> dict[str, Any]:
    """Train our DQN on the reference environment and grade its policy like the metric does."""
    import torch

    import alamp.envs  # noqa: F401  (registers the alamp ids)
    from alamp.rl import DQNConfig, load_trainer_config, train_dqn

    torch.set_num_threads(1)
    ref = task.reference
    values = dict(load_trainer_config(preset)["dqn"])
    values.update(seed=seed, eval_threshold=ref.success_threshold, eval_episodes=min(ref.eval_episodes, 50))
    if total_timesteps:
        values["total_timesteps"] = total_timesteps
    config = DQNConfig.from_dict(values)

    def make_env() -> gym.Env:
        return gym.make(ref.env_id, max_episode_steps=ref.max_episode_steps, **ref.kwargs)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train_dqn(config=config, make_env=make_env)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    graded = evaluate_on_reference(task, result.policy, seed=10_000)
    return {
        "task": task.id,
        "seed": seed,
        "dqn_return": graded.mean,
        "solved": graded.mean >= ref.success_threshold,
        "cpu_s": cpu,
        "wall_s": wall,
    }


def _train_job(args: tuple[str, int, str, int | None]) -> dict[str, Any]:
    task_id, seed, preset, steps = args
    return train_on_reference(load_task(task_id), seed=seed, preset=preset, total_timesteps=steps)


def write_returns(task: Task, random_return: float, best_return: float) -> None:
    """Rewrite the ``random_return``/``best_return`` lines of the task file in place (formatting kept)."""
    path = tasks_dir() / f"{task.id}.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(  random_return: ).*$", rf"\g<1>{random_return:.2f}", text)
    text = re.sub(r"(?m)^(  best_return: ).*$", rf"\g<1>{best_return:.2f}", text)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="", help="comma-separated task ids (default: all)")
    parser.add_argument("--seeds", type=int, default=1, help="DQN seeds per task")
    parser.add_argument("--preset", default="default", help="conf/trainer preset")
    parser.add_argument("--total-timesteps", type=int, default=None, help="override the preset's budget")
    parser.add_argument("--stat-episodes", type=int, default=100, help="episodes for the random/best returns")
    parser.add_argument("--workers", type=int, default=1, help="parallel DQN trainings (processes)")
    parser.add_argument("--no-dqn", action="store_true", help="only the random and known-policy returns")
    parser.add_argument("--write-returns", action="store_true", help="store random/best returns in data/tasks")
    parser.add_argument("--out", type=Path, default=None, help="also write the raw numbers to this JSON file")
    args = parser.parse_args()

    wanted = [t for t in args.tasks.split(",") if t]
    tasks = [load_task(t) for t in wanted] if wanted else load_tasks()
    rows: dict[str, dict[str, Any]] = {}
    for task in tasks:
        stats = policy_returns(task, args.stat_episodes)
        rows[task.id] = {"task": task.id, "split": task.split, "reference": task.reference.env_id,
                         "threshold": task.reference.success_threshold, **stats, "dqn": []}
        if args.write_returns:
            write_returns(task, stats["random"], stats["best"])
        print(f"{task.id}: random {stats['random']:.2f}, best {stats['best']:.2f}", flush=True)

    if not args.no_dqn:
        jobs = [(t.id, s, args.preset, args.total_timesteps) for t in tasks for s in range(args.seeds)]
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            for res in pool.map(_train_job, jobs):
                rows[res["task"]]["dqn"].append(res)
                print(f"{res['task']} seed {res['seed']}: DQN {res['dqn_return']:.2f} "
                      f"({'solved' if res['solved'] else 'NOT solved'}) in {res['cpu_s']:.0f} CPU-s", flush=True)

    print("\n| task | split | reference | threshold | random | best known | DQN on reference (solved/seeds, "
          "median CPU and wall seconds) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows.values():
        dqn = row["dqn"]
        if dqn:
            solved = sum(r["solved"] for r in dqn)
            cpu = sorted(r["cpu_s"] for r in dqn)[len(dqn) // 2]
            wall = sorted(r["wall_s"] for r in dqn)[len(dqn) // 2]
            mean = sum(r["dqn_return"] for r in dqn) / len(dqn)
            dqn_cell = f"{mean:.1f} ({solved}/{len(dqn)}, {cpu:.1f} CPU-s, {wall:.1f} s)"
        else:
            dqn_cell = "-"
        print(f"| {row['task']} | {row['split']} | `{row['reference']}` | {row['threshold']:g} | "
              f"{row['random']:.2f} | {row['best']:.2f} | {dqn_cell} |")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(list(rows.values()), indent=2), encoding="utf-8")
        print(f"\nraw numbers: {args.out}")


if __name__ == "__main__":
    main()
