"""Benchmark: alamp's DQN against Stable-Baselines3's DQN (rl-baselines3-zoo hyperparameters).

For each environment and seed, alternating ours / SB3, each run in a fresh subprocess (one torch thread):
train, evaluate the greedy policy on 100 episodes every ``--eval-every`` environment steps with the *same*
batched evaluator for both, and stop when the evaluation mean first reaches the threshold (CartPole-v1: 475,
MountainCar-v0: -110). Reported: seeds solved, CPU seconds (``time.process_time``) to the threshold with the
evaluations' own CPU time taken out (both sides use the same evaluator, so it is not part of either trainer), the
same including evaluation, environment steps, and a confirmation mean of the final policy on 100 fresh episodes.
Both sides pay torch's one-time optimizer import before the clock starts.

Usage::

    .venv/bin/pip install stable-baselines3   # benchmark-only dependency
    .venv/bin/python bench/dqn_vs_sb3.py               # 5 seeds, CartPole-v1 and MountainCar-v0
    .venv/bin/python bench/dqn_vs_sb3.py --quick       # 2 seeds, CartPole-v1 only
    .venv/bin/python bench/dqn_vs_sb3.py --seeds 3 --envs MountainCar-v0
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Per environment: threshold, our trainer preset (conf/trainer/), SB3 zoo hyperparameters, evaluation interval.
BENCHMARKS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        "threshold": 475.0,
        "preset": "default",
        "eval_every": 1_000,
        "sb3": {
            "n_timesteps": 50_000, "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000,
            "learning_starts": 1_000, "gamma": 0.99, "target_update_interval": 10, "train_freq": 256,
            "gradient_steps": 128, "exploration_fraction": 0.16, "exploration_final_eps": 0.04, "net_arch": [256, 256],
        },
    },
    "MountainCar-v0": {
        "threshold": -110.0,
        "preset": "mountain_car",
        "eval_every": 2_000,
        "sb3": {
            "n_timesteps": 120_000, "learning_rate": 4e-3, "batch_size": 128, "buffer_size": 10_000,
            "learning_starts": 1_000, "gamma": 0.98, "target_update_interval": 600, "train_freq": 16,
            "gradient_steps": 8, "exploration_fraction": 0.2, "exploration_final_eps": 0.07, "net_arch": [256, 256],
        },
    },
}
EVAL_EPISODES = 100
CONFIRM_SEED = 987_654  # fresh episodes, never used during training or its evaluations


def _warm_up_torch() -> None:
    """Pay torch's one-time costs (thread pool, the optimizer module's lazy imports) before timing anything."""
    import torch

    torch.set_num_threads(1)
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def run_ours(env_id: str, seed: int, eval_every: int) -> dict[str, Any]:
    from alamp.rl import DQNConfig, evaluate_policy, load_trainer_config, train_dqn

    bench = BENCHMARKS[env_id]
    config = DQNConfig.from_dict(load_trainer_config(bench["preset"])["dqn"]).replace(
        seed=seed, eval_every=eval_every, eval_episodes=EVAL_EPISODES, eval_threshold=bench["threshold"]
    )
    result = train_dqn(config=config, make_env=env_id)
    last = result.curve[-1]
    confirm = evaluate_policy(result.policy, make_env=env_id, episodes=EVAL_EPISODES, seed=CONFIRM_SEED)
    return {
        "solved": result.solved,
        "steps": result.steps,
        "cpu_s": last["cpu_s"],
        "train_cpu_s": last["cpu_s"] - last["eval_cpu_s"],
        "eval_mean": last["eval_mean"],
        "confirm_mean": confirm.mean,
        "budget": config.total_timesteps,
    }


class _SB3Policy:
    """Adapter so the shared batched evaluator can drive an SB3 model (``act_batch`` = greedy predict)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def act_batch(self, observations: Any) -> Any:
        actions, _ = self.model.predict(observations, deterministic=True)
        return actions


def run_sb3(env_id: str, seed: int, eval_every: int) -> dict[str, Any]:
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from alamp.rl import evaluate_policy
    from alamp.rl.evaluation import BatchedEvaluator

    bench = BENCHMARKS[env_id]
    hp = dict(bench["sb3"])
    n_timesteps, net_arch = hp.pop("n_timesteps"), hp.pop("net_arch")
    evaluator = BatchedEvaluator(make_env=env_id, episodes=EVAL_EPISODES)
    policy = None
    state: dict[str, Any] = {"eval_cpu_s": 0.0, "solved": False, "eval_mean": float("nan"), "evals": 0}

    class EvalAndStop(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            before = time.process_time()
            result = evaluator(policy, seed=1_000_003 + seed + state["evals"] * EVAL_EPISODES)
            state["eval_cpu_s"] += time.process_time() - before
            state["evals"] += 1
            state["eval_mean"] = result.mean
            state["steps"] = self.num_timesteps
            state["cpu_s"] = time.process_time() - cpu_start
            if result.mean >= bench["threshold"]:
                state["solved"] = True
                return False
            return True

    cpu_start = time.process_time()
    model = DQN("MlpPolicy", gym.make(env_id), seed=seed, device="cpu", verbose=0,
                policy_kwargs={"net_arch": net_arch}, **hp)
    policy = _SB3Policy(model)
    model.learn(total_timesteps=n_timesteps, callback=EvalAndStop())
    if "cpu_s" not in state:
        state["cpu_s"], state["steps"] = time.process_time() - cpu_start, model.num_timesteps
    evaluator.close()
    confirm = evaluate_policy(policy, make_env=env_id, episodes=EVAL_EPISODES, seed=CONFIRM_SEED)  # type: ignore[arg-type]
    return {
        "solved": state["solved"],
        "steps": state["steps"],
        "cpu_s": state["cpu_s"],
        "train_cpu_s": state["cpu_s"] - state["eval_cpu_s"],
        "eval_mean": state["eval_mean"],
        "confirm_mean": confirm.mean,
        "budget": n_timesteps,
    }


def child_main(args: argparse.Namespace) -> None:
    _warm_up_torch()
    runner = run_ours if args.child == "ours" else run_sb3
    row = runner(args.env, args.seed, args.eval_every)
    print("RESULT " + json.dumps(row), flush=True)


def run_child(impl: str, env_id: str, seed: int, eval_every: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", impl, "--env", env_id, "--seed", str(seed),
               "--eval-every", str(eval_every)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{impl} on {env_id} seed {seed} failed:\n{completed.stderr[-3000:]}")
    return {"impl": impl, "env": env_id, "seed": seed, **json.loads(lines[-1][len("RESULT "):])}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def markdown_table(rows: list[dict[str, Any]], seeds: int) -> str:
    lines = [
        "| env | trainer | solved | median CPU-s to threshold (excl. eval) | incl. eval | median steps | "
        "median confirm mean | SB3 / ours (CPU excl. eval) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for env_id in dict.fromkeys(r["env"] for r in rows):
        medians: dict[str, float] = {}
        for impl in ("ours", "sb3"):
            runs = [r for r in rows if r["env"] == env_id and r["impl"] == impl]
            if not runs:
                continue
            # Unsolved runs count with their whole budget's CPU time (a lower bound on their time to threshold).
            medians[impl] = _median([r["train_cpu_s"] for r in runs])
            solved = sum(r["solved"] for r in runs)
            ratio = ""
            if impl == "sb3" and "ours" in medians:
                ratio = f"{medians['sb3'] / medians['ours']:.1f}x"
            lines.append(
                f"| {env_id} | {impl} | {solved}/{len(runs)} | {medians[impl]:.2f} | "
                f"{_median([r['cpu_s'] for r in runs]):.2f} | {_median([r['steps'] for r in runs]):.0f} | "
                f"{_median([r['confirm_mean'] for r in runs]):.1f} | {ratio} |"
            )
    lines.append(f"\n{seeds} seeds per cell; unsolved runs count with their full-budget CPU time.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per environment (default 5)")
    parser.add_argument("--envs", nargs="+", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="2 seeds, CartPole-v1 only")
    parser.add_argument("--only", choices=["ours", "sb3"], help="run one trainer only")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default bench/results)")
    parser.add_argument("--child", choices=["ours", "sb3"], help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--eval-every", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    if args.quick:
        args.seeds, args.envs = 2, ["CartPole-v1"]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = args.out / f"dqn_vs_sb3-{stamp}.jsonl"
    impls = [args.only] if args.only else ["ours", "sb3"]
    rows: list[dict[str, Any]] = []
    for env_id in args.envs:
        for seed in range(args.seeds):
            for impl in impls:  # alternate, so drifting machine load hits both alike
                row = run_child(impl, env_id, seed, BENCHMARKS[env_id]["eval_every"])
                rows.append(row)
                with log_path.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(f"{env_id} seed {seed} {impl:4s}: solved={row['solved']} steps={row['steps']} "
                      f"cpu={row['train_cpu_s']:.2f}s (incl. eval {row['cpu_s']:.2f}s) "
                      f"confirm={row['confirm_mean']:.1f}", flush=True)
    table = markdown_table(rows, args.seeds)
    (args.out / f"dqn_vs_sb3-{stamp}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
