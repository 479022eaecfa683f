"""The Code Executor: run an environment through its checks and say precisely what failed.

Checks, in order (the first failure is reported as ``stage_failed``):

1. ``import``    the module imports (generated code only);
2. ``construct`` the environment class is found and constructed;
3. ``check_env`` ``gymnasium.utils.env_checker.check_env`` passes;
4. ``step``      ``n_steps`` random steps run (resetting at episode ends) with finite observations and rewards;
5. ``spaces``    the observation has one entry per SAR observation and the action space is ``Discrete`` with one
   action per SAR action.

Generated code is checked in a sandboxed child (``alamp.sandbox``); a compiled spec runs no generated code and is
checked in-process. The error text is written for the Repair agent: exception, message, and the failing lines of
the generated module.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alamp.sandbox import SandboxLimits, run_in_sandbox
from alamp.schema import SARSpec
from alamp.schema.agents import ExecutionReport

__all__ = [
    "actions_change_anything",
    "GENERATED_MODULE",
    "run_checks",
    "load_env_class",
    "check_module_file",
    "check_code",
    "check_env_factory",
    "spaces_problem",
]

GENERATED_MODULE = "generated_env.py"

_CHILD_TASK = """
def main(payload):
    from alamp.executor import check_module_file
    return check_module_file(payload["module"], n_steps=payload["n_steps"], seed=payload["seed"])
"""


def _format_error(exc: BaseException, filename: str | None = None) -> str:
    """Exception type and message, plus the frames in ``filename`` (the generated module) when given."""
    frames = traceback.extract_tb(exc.__traceback__)
    if filename:
        frames = [f for f in frames if Path(f.filename).name == filename] or frames[-1:]
    else:
        frames = frames[-3:]
    lines = [
        f'  File "{Path(f.filename).name}", line {f.lineno}, in {f.name}: {(f.line or "").strip()}' for f in frames
    ]
    message = f"{type(exc).__name__}: {exc}"
    return "\n".join([*lines, message]) if lines else message


def _finite(value: Any) -> bool:
    import numpy as np

    arr = np.asarray(value, dtype=float)
    return bool(np.all(np.isfinite(arr)))


def run_checks(
    make_env: Callable[[], Any], *, n_steps: int = 200, seed: int = 0, filename: str | None = None
) -> dict[str, Any]:
    """Construct, ``check_env`` and step an environment. Returns a JSON-ready dict (``ExecutionReport`` fields).

    Args:
        make_env: Builds a fresh environment.
        n_steps: Random steps to run.
        seed: Seed for reset and action sampling.
        filename: Name of the generated module, to show only its frames in errors.
    """
    import numpy as np
    from gymnasium import spaces
    from gymnasium.utils.env_checker import check_env

    start = time.perf_counter()
    stage = "construct"
    report: dict[str, Any] = {"passed": False, "stage_failed": None, "error": "", "steps": 0}
    try:
        env = make_env()
        stage = "check_env"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(env.unwrapped if hasattr(env, "unwrapped") else env, skip_render_check=True)
        stage = "step"
        env = make_env()
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        if not _finite(obs):
            raise ValueError(f"reset returned a non-finite observation {obs!r}")
        for step in range(n_steps):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, _ = env.step(action)
            if not _finite(obs):
                raise ValueError(f"step {step} returned a non-finite observation {obs!r} for action {action}")
            if not math.isfinite(float(reward)):
                raise ValueError(f"step {step} returned a non-finite reward {reward!r} for action {action}")
            report["steps"] = step + 1
            if terminated or truncated:
                obs, _ = env.reset()
        stage = "spaces"
        report["obs_dim"] = int(np.prod(env.observation_space.shape or (1,)))
        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(f"action_space is {env.action_space}; it must be spaces.Discrete(number of actions)")
        report["n_actions"] = int(env.action_space.n)
    except Exception as exc:  # every failure is a finding to report, not a crash
        report.update(stage_failed=stage, error=_format_error(exc, filename))
    else:
        report["passed"] = True
    report["seconds"] = time.perf_counter() - start
    return report


def load_env_class(path: str) -> type:
    """Import a generated module and return its ``gymnasium.Env`` subclass (the last one defined). Child-side only.

    Raises:
        ImportError: The module does not import (its own exception is chained).
        TypeError: The module defines no ``gymnasium.Env`` subclass.
    """
    import gymnasium as gym

    spec = importlib.util.spec_from_file_location("generated_env", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, gym.Env) and obj.__module__ == module.__name__
    ]
    if not classes:
        raise TypeError("the module defines no gymnasium.Env subclass; define class MyEnv(gym.Env) with reset and step")
    return classes[-1]


def check_module_file(path: str, *, n_steps: int = 200, seed: int = 0) -> dict[str, Any]:
    """Import a generated module, find its ``gymnasium.Env`` subclass and run the checks (used in the child).

    Args:
        path: Path of the module file.
        n_steps: Random steps to run.
        seed: Seed for reset and action sampling.
    """
    filename = Path(path).name
    try:
        env_class = load_env_class(path)
    except TypeError as exc:
        return {"passed": False, "stage_failed": "construct", "error": str(exc), "steps": 0}
    except Exception as exc:
        return {"passed": False, "stage_failed": "import", "error": _format_error(exc, filename), "steps": 0}
    report = run_checks(env_class, n_steps=n_steps, seed=seed, filename=filename)
    report["class_name"] = env_class.__name__
    return report


def spaces_problem(*, obs_dim: int | None, n_actions: int | None, sar: SARSpec | None) -> str:
    """Why the spaces disagree with the SAR spec, or ``""`` when they agree (or there is no SAR spec)."""
    if sar is None:
        return ""
    problems = []
    if obs_dim is not None and obs_dim != len(sar.observations):
        problems.append(
            f"observation has {obs_dim} entries but the SAR spec lists {len(sar.observations)} observations "
            f"({', '.join(sar.observations)}); return exactly these, in this order"
        )
    if n_actions is not None and n_actions != len(sar.actions):
        problems.append(
            f"action_space has {n_actions} actions but the SAR spec lists {len(sar.actions)} "
            f"({', '.join(a.name for a in sar.actions)}); use spaces.Discrete({len(sar.actions)})"
        )
    return "; ".join(problems)


def _to_report(raw: dict[str, Any], sar: SARSpec | None) -> ExecutionReport:
    report = ExecutionReport.model_validate(raw)
    if report.passed:
        problem = spaces_problem(obs_dim=report.obs_dim, n_actions=report.n_actions, sar=sar)
        if problem:
            report.passed, report.stage_failed, report.error = False, "spaces", problem
    return report


def check_env_factory(
    make_env: Callable[[], Any], *, sar: SARSpec | None, n_steps: int = 200, seed: int = 0
) -> ExecutionReport:
    """Check an environment built in-process (a compiled spec: no generated code runs)."""
    return _to_report(run_checks(make_env, n_steps=n_steps, seed=seed), sar)


def check_code(
    code: str,
    *,
    sar: SARSpec | None,
    n_steps: int = 200,
    seed: int = 0,
    limits: SandboxLimits | None = None,
) -> ExecutionReport:
    """Check generated environment code in a sandboxed child process.

    Args:
        code: The generated module's source.
        sar: The SAR spec the spaces must agree with (None: skip that check).
        n_steps: Random steps to run.
        seed: Seed for reset and action sampling.
        limits: Sandbox limits (default: 60 s, 2 GiB).

    Returns:
        The report; ``error`` is written for the Repair agent.
    """
    result = run_in_sandbox(
        task_source=_CHILD_TASK,
        payload={"module": GENERATED_MODULE, "n_steps": n_steps, "seed": seed},
        files={GENERATED_MODULE: code},
        limits=limits,
    )
    if result.ok and result.report is not None:
        report = _to_report(result.report, sar)
    else:
        stage = "timeout" if result.timed_out else "sandbox"
        report = ExecutionReport(passed=False, stage_failed=stage, error=result.error[-4000:])
    report.seconds = result.seconds
    return report


def actions_change_anything(
    make_env: Callable[[], Any], *, samples: int = 16, rollout_steps: int = 20, seed: int = 0
) -> bool:
    """Whether some action leads somewhere else than the others from some reachable state (an env with ``set_state``).

    Sampled states: starts and points of short random rollouts. From each, every action is stepped with the same
    random stream, and the next state, reward and termination are compared. An environment in which the action
    changes nothing cannot be controlled, however well it passes the other checks (the small model writes update
    equations that never read what the actions set).

    Raises:
        AttributeError: If the environment has no ``get_state`` / ``set_state`` (compiled specs have both).
    """
    import numpy as np

    env = make_env()
    try:
        n_actions = int(env.action_space.n)
        if n_actions < 2:
            return True
        rng = np.random.default_rng(seed)
        states = []
        for sample in range(samples):
            env.reset(seed=seed + sample)
            for _ in range(int(rng.integers(0, rollout_steps + 1))):
                _, _, terminated, truncated, _ = env.step(int(rng.integers(n_actions)))
                if terminated or truncated:
                    env.reset(seed=seed + samples + sample)
                    break
            states.append(env.get_state())
        for sample, state in enumerate(states):
            outcomes = set()
            for action in range(n_actions):
                env.set_state(state)
                env.np_random = np.random.default_rng(seed + 7_919 * (sample + 1))
                _, reward, terminated, _, _ = env.step(action)
                outcomes.add((np.round(env.get_state(), 9).tobytes(), round(float(reward), 9), bool(terminated)))
            if len(outcomes) > 1:
                return True
        return False
    finally:
        env.close()

