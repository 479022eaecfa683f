"""Real run directories for the report tests: ``alamp.run.run`` with scripted agents (tests/program_scripts.py).

Each helper writes one directory exactly as a real run does (same code path, only the LM is scripted), so the
report is tested against the shapes ``run.json`` and the stage files really have, not invented ones.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import dspy
from fake_lm import ScriptedLM
from hydra import compose, initialize_config_dir
from program_scripts import CARTPOLE, CORRIDOR, CORRIDOR_DESCRIPTION

from alamp.paths import conf_dir
from alamp.run import run

# Tiny DQN budgets: the report needs a curve and a verdict, not a good policy.
_TRAIN = ["train=true", "trainer=fast", "trainer.dqn.learning_starts=100", "trainer.dqn.eval_episodes=2",
          "trainer.dqn.num_envs=2"]  # fmt: skip


def _cfg(*overrides: str) -> Any:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        base = ["logger=disabled", "train=false", "progress=false", "num_candidates=1"]
        return compose(config_name="run", overrides=[*base, *overrides])


def _run(script: dict[str, list[Any]], out: Path, *overrides: str) -> Path:
    lm = ScriptedLM(script)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    try:
        run(_cfg(*overrides), run_dir=out, lm=lm)
    finally:
        dspy.configure(lm=None, adapter=None)
    return out


def _corridor_file(base: Path) -> Path:
    path = base / "corridor.txt"
    path.write_text(CORRIDOR_DESCRIPTION)
    return path


def graded_cartpole_run(base: Path) -> Path:
    """CartPole, trained 300 steps and graded: fails at policy success; the cart starts at 0 instead of a uniform
    draw, so start fidelity is 0.75 with one differing entry."""
    script = copy.deepcopy(CARTPOLE)
    script["VariableSignature"][0]["variables"][0]["initial"] = "0"
    return _run(script, base / "cartpole", "task=cartpole", *_TRAIN, "trainer.dqn.total_timesteps=300",
                "trainer.dqn.eval_every=100")  # fmt: skip


def trained_corridor_run(base: Path) -> Path:
    """The corridor from a description file: modelled, coded and trained, not graded (no task)."""
    return _run(CORRIDOR, base / "corridor", f"description_file={_corridor_file(base)}", *_TRAIN,
                "trainer.dqn.total_timesteps=400", "trainer.dqn.eval_every=200")  # fmt: skip


def env_failed_run(base: Path) -> Path:
    """The corridor whose Env agent names an unknown quantity twice: fails at the environment stage."""
    broken = {"updates": [{"target": "position", "expr": "clip(position + drift, 0, 10)"}]}
    return _run(dict(CORRIDOR, EnvSignature=[broken, broken]), base / "env_failed",
                f"description_file={_corridor_file(base)}", "max_repairs=1")  # fmt: skip


def killed_run(base: Path) -> Path:
    """A run killed while the SAR agent ran: run.json still says ``running``; five stages are on disk."""

    def crash(_user: str) -> dict[str, Any]:
        raise KeyboardInterrupt

    out = base / "killed"
    try:
        _run(dict(CORRIDOR, SARSignature=[crash]), out, f"description_file={_corridor_file(base)}")
    except KeyboardInterrupt:
        pass
    return out
