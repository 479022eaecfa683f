"""The training stage's ceiling: can alamp's DQN solve each task's *reference* environment, default vs tuned?

A perfect Env stage hands the trainer the reference environment itself; whatever the trainer cannot solve there, no
run can. For each task and seed this trains the DQN on the reference environment (the task's threshold as its
early-stop target) and grades the greedy policy exactly as the metric grades a run
(``alamp.metric.evaluate_on_reference``: the task's ``eval_episodes``, seeds from 10_000):

* ``default``: ``conf/trainer/<preset>.yaml`` as shipped, seed ``s``;
* ``tuned``: the training stage with ``trainer=tune``: one Optuna study per task (``conf/trainer/tuner/default.yaml``,
  the default config enqueued as its first trial, every trial trained with seed 1000 so no graded seed is tuned on),
  then its best configuration retrained with seed ``s``.

Each finished cell is appended to a JSONL file at once and skipped on the next call, and studies live in an SQLite
file next to it, so a killed run resumes where it stopped (``--table-only`` prints the table of what is there):

    nice -n 19 .venv/bin/python bench/reference_solvable.py                  # all tasks x 5 seeds, default and tuned
    nice -n 19 .venv/bin/python bench/reference_solvable.py --tasks elevator # a second worker (same files) meanwhile
    .venv/bin/python bench/reference_solvable.py --tasks drone,wireless --seeds 3 --variants default
    .venv/bin/python bench/reference_solvable.py --table-only                # the Markdown table of the JSONL
    .venv/bin/python bench/reference_solvable.py --stats --write-returns     # refresh random/best in data/tasks
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym

from alamp.envs import RandomPolicy, known_policy
from alamp.metric import evaluate_on_reference
from alamp.paths import tasks_dir
from alamp.tasks import Task, load_task, load_tasks

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_JSONL = RESULTS / "reference_ceiling.jsonl"
STUDY_SEED = 1000  # every tuning trial trains with this seed; graded seeds are 0..n-1
# Cheapest first (CPU seconds of one default training, bench/results/reference_solvable.json), so a partial run
# covers as many tasks as it can.
COST_ORDER = ("reservoir", "thermostat", "machine_replacement", "cartpole", "inventory", "wireless",
              "fishery_quota", "server_autoscaling", "epidemic_control", "frozen_lake", "queue_admission",
              "cliff_walking", "drone", "battery_arbitrage", "traffic_light", "mountain_car", "elevator")


def policy_returns(task: Task, episodes: int) -> dict[str, float]:
    """Mean returns of the random and the known policy on the reference."""
    ref = task.reference
    random_eval = evaluate_on_reference(task, RandomPolicy(task.n_actions, seed=1), episodes=episodes, seed=0)
    best_eval = evaluate_on_reference(task, known_policy(ref.env_id, **ref.kwargs), episodes=episodes, seed=0)
    return {"random": random_eval.mean, "best": best_eval.mean, "best_std": best_eval.std}


def _reference_env(task: Task) -> Any:
    import alamp.envs  # noqa: F401  (registers the alamp ids)

    ref = task.reference

    def make_env() -> gym.Env:
        return gym.make(ref.env_id, max_episode_steps=ref.max_episode_steps, **ref.kwargs)

    make_env.__name__ = f"reference_{task.id}"
    return make_env


def base_config(task: Task, *, preset: str, total_timesteps: int | None) -> Any:
    """The preset's ``DQNConfig`` aimed at the task's threshold (evaluations of at most 50 episodes)."""
    from alamp.rl import DQNConfig, load_trainer_config

    values = dict(load_trainer_config(preset)["dqn"])
    ref = task.reference
    values.update(eval_threshold=ref.success_threshold, eval_episodes=min(ref.eval_episodes, 50))
    if total_timesteps:
        values["total_timesteps"] = total_timesteps
    return DQNConfig.from_dict(values)


def train_and_grade(task: Task, config: Any) -> dict[str, Any]:
    """Train on the reference with ``config`` and grade the policy like the metric does."""
    from alamp.rl import train_dqn

    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train_dqn(config=config, make_env=_reference_env(task))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    graded = evaluate_on_reference(task, result.policy, seed=10_000)
    return {"return": graded.mean, "solved": graded.mean >= task.reference.success_threshold,
            "steps": result.steps, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:10]


def tune_on_reference(task: Task, base: Any, *, tuner: dict[str, Any], storage: str, out_dir: Path) -> Any:
    """The task's study (created or resumed up to ``tuner['total_trials']``) and its best configuration."""
    from alamp.optimizers import tune_dqn

    study_base = base.replace(seed=STUDY_SEED)
    name = f"ceiling-{task.id}-{_hash([study_base.to_dict(), tuner])}"
    return tune_dqn(make_env=_reference_env(task), output_dir=out_dir / task.id, base_config=study_base,
                    tuner_config={**tuner, "storage": storage, "study_name": name, "enqueue_base": True})


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSONL's records (a torn last line from a kill is skipped)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def run_cells(tasks: Iterable[Task], *, seeds: int, variants: list[str], preset: str, total_timesteps: int | None,
              tuner: dict[str, Any], jsonl: Path) -> None:
    """Every missing (task, variant, seed) cell, appended to ``jsonl`` as it finishes."""
    import torch

    torch.set_num_threads(1)
    storage = f"sqlite:///{jsonl.with_suffix('.db').resolve()}"
    for task in tasks:
        base = base_config(task, preset=preset, total_timesteps=total_timesteps)
        key = _hash(base.replace(seed=0).to_dict())
        done = {(r["variant"], r["seed"]) for r in read_rows(jsonl)
                if r.get("kind") == "cell" and r["task"] == task.id and r.get("config") in (key, None)}
        for variant in variants:
            tuned = None
            for seed in range(seeds):
                if (variant, seed) in done:
                    continue
                if variant == "default":
                    config = base.replace(seed=seed)
                else:
                    if tuned is None:
                        cpu0 = time.process_time()
                        tuned = tune_on_reference(task, base, tuner=tuner, storage=storage,
                                                  out_dir=jsonl.parent / "ceiling_studies")
                        _append(jsonl, {"kind": "study", "task": task.id, "config": key, **tuned.summary(),
                                        "best_attrs": tuned.best_attrs,
                                        "cpu_s_this_call": round(time.process_time() - cpu0, 2)})
                    config = tuned.best_config.replace(seed=seed)
                cell = train_and_grade(task, config)
                row = {"kind": "cell", "task": task.id, "variant": variant, "seed": seed, "config": key, **cell}
                _append(jsonl, row)
                print(f"{task.id} {variant} seed {seed}: {cell['return']:.2f} "
                      f"({'solved' if cell['solved'] else 'NOT solved'}) {cell['cpu_s']:.1f} CPU-s", flush=True)


def table(rows: list[dict[str, Any]], tasks: list[Task], *, seeds: int, variants: list[str]) -> str:
    """The Markdown table: per task and variant, solved/seeds, mean return, median CPU seconds (study CPU apart)."""
    lines = ["| task | split | threshold | " + " | ".join(
        f"{v}: solved, mean return, median CPU-s" for v in variants) + " | study trials (complete/pruned), "
        "study CPU-s |", "|---|---|---|" + "---|" * len(variants) + "---|"]
    partial = False
    for task in tasks:
        cells = []
        for variant in variants:
            by_seed: dict[int, dict[str, Any]] = {}  # first record per seed (two workers may both finish one)
            for r in rows:
                if r.get("kind") == "cell" and r["task"] == task.id and r["variant"] == variant and r["seed"] < seeds:
                    by_seed.setdefault(r["seed"], r)
            mine = list(by_seed.values())
            if len(mine) < seeds:
                partial = True
            if not mine:
                cells.append("-")
                continue
            solved = sum(r["solved"] for r in mine)
            mean = sum(r["return"] for r in mine) / len(mine)
            cpu = sorted(r["cpu_s"] for r in mine)[len(mine) // 2]
            cells.append(f"{solved}/{len(mine)}, {mean:.1f}, {cpu:.1f}")
        studies = [r for r in rows if r.get("kind") == "study" and r["task"] == task.id]
        if studies:
            trials = studies[-1]["trials"]
            cpu = sum(r.get("cpu_s_this_call", 0.0) for r in studies)  # every call's share, workers included
            study = f"{trials.get('COMPLETE', 0)}/{trials.get('PRUNED', 0)}, {cpu:.0f}"
        else:
            study = "-"
        lines.append(f"| {task.id} | {task.split} | {task.reference.success_threshold:g} | " + " | ".join(cells)
                     + f" | {study} |")
    if partial:
        lines.append(f"\nPARTIAL: some cells of {seeds} seeds are missing (a count below {seeds} shows how many ran).")
    return "\n".join(lines)


def write_returns(task: Task, random_return: float, best_return: float) -> None:
    """Rewrite the ``random_return``/``best_return`` lines of the task file in place (formatting kept)."""
    path = tasks_dir() / f"{task.id}.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(  random_return: ).*$", rf"\g<1>{random_return:.2f}", text)
    text = re.sub(r"(?m)^(  best_return: ).*$", rf"\g<1>{best_return:.2f}", text)
    path.write_text(text, encoding="utf-8")


def _ordered(tasks: list[Task]) -> list[Task]:
    rank = {name: i for i, name in enumerate(COST_ORDER)}
    return sorted(tasks, key=lambda t: rank.get(t.id, len(rank)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="", help="comma-separated task ids (default: all)")
    parser.add_argument("--seeds", type=int, default=5, help="graded seeds per task and variant (0..n-1)")
    parser.add_argument("--variants", default="default,tuned", help="comma-separated: default, tuned")
    parser.add_argument("--preset", default="default", help="conf/trainer preset of the default variant")
    parser.add_argument("--total-timesteps", type=int, default=None, help="override the preset's budget")
    parser.add_argument("--tune-trials", type=int, default=None,
                        help="trials per task study (default: conf/trainer/tuner/default.yaml's total_trials)")
    parser.add_argument("--jsonl", type=Path, default=DEFAULT_JSONL, help="append results here; done cells skip")
    parser.add_argument("--table-only", action="store_true", help="print the table of the JSONL and stop")
    parser.add_argument("--stats", action="store_true", help="also the random and known-policy returns")
    parser.add_argument("--stat-episodes", type=int, default=100, help="episodes for the random/best returns")
    parser.add_argument("--write-returns", action="store_true", help="store random/best returns in data/tasks")
    args = parser.parse_args()

    from alamp.rl import load_trainer_config

    wanted = [t for t in args.tasks.split(",") if t]
    tasks = _ordered([load_task(t) for t in wanted] if wanted else load_tasks())
    variants = [v for v in args.variants.split(",") if v]
    bad = sorted(set(variants) - {"default", "tuned"})
    if bad:
        parser.error(f"--variants {bad} unknown; use default and/or tuned")
    if args.stats or args.write_returns:
        for task in tasks:
            stats = policy_returns(task, args.stat_episodes)
            if args.write_returns:
                write_returns(task, stats["random"], stats["best"])
            print(f"{task.id}: random {stats['random']:.2f}, best {stats['best']:.2f}", flush=True)
    if not args.table_only:
        tuner = dict(load_trainer_config("tune")["tuner"])
        for key in ("storage", "study_name"):
            tuner.pop(key, None)
        if args.tune_trials is not None:
            tuner.update(n_trials=args.tune_trials, total_trials=args.tune_trials)
        run_cells(tasks, seeds=args.seeds, variants=variants, preset=args.preset,
                  total_timesteps=args.total_timesteps, tuner=tuner, jsonl=args.jsonl)
    print(table(read_rows(args.jsonl), tasks, seeds=args.seeds, variants=variants))


if __name__ == "__main__":
    main()
