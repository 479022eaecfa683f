"""The Code Executor: run an environment through its checks and say precisely what failed.

Checks, in order (the first failure is reported as ``stage_failed``):

1. ``import``    the module imports (generated code only);
2. ``construct`` the environment class is found and constructed;
3. ``spaces``    the action space is ``Discrete`` and the observation space a numeric ``Box`` (or ``Discrete``) of
   bounded size; after the steps, the observation has one entry per SAR observation and one action per SAR action;
4. ``step``      ``reset(seed)`` twice gives the same observation (else ``check_env``), then ``n_steps`` random steps
   run (resetting at episode ends); every observation has the declared shape and dtype, is finite and inside the
   declared bounds; every reward is a finite number; the flags are bools;
5. ``check_env`` ``gymnasium.utils.env_checker.check_env`` passes (a second opinion, run last).

The verdict is decided here, in the parent. Generated code only *hosts* the environment in a sandboxed child
(``alamp.sandbox`` + ``alamp.env_host``): this process sends ``reset``/``step`` requests over a pipe with a bounded
message size, validates each answer and decides pass or fail, so nothing the child writes or patches can make a
check pass. A compiled spec runs no generated code and is driven in-process through the same checks. The error
text is written for the Repair agent (exception, message, the failing lines of the generated module), capped head
and tail.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alamp.env_host import EnvHost, load_env_class
from alamp.sandbox import SandboxError, SandboxLimits, SandboxSession
from alamp.schema import SARSpec
from alamp.schema.agents import ExecutionReport
from alamp.text_limits import cap_text

__all__ = [
    "actions_change_anything",
    "GENERATED_MODULE",
    "run_checks",
    "load_env_class",
    "check_code",
    "check_env_factory",
    "spaces_problem",
]

GENERATED_MODULE = "generated_env.py"

#: Largest observation (elements) and action count the executor accepts; larger ones are refused, not allocated.
MAX_OBSERVATION_ELEMENTS = 10_000
MAX_ACTIONS = 1_000


class _CheckFailed(Exception):
    """One check failed: ``stage`` and the message for the Repair agent."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class _ObservationSpace:
    """The declared observation space, rebuilt from the child's description as plain numbers (no child code)."""

    def __init__(self, desc: Any) -> None:
        import numpy as np

        if not isinstance(desc, dict) or desc.get("type") not in ("Box", "Discrete"):
            kind = desc.get("type") if isinstance(desc, dict) else type(desc).__name__
            raise _CheckFailed("spaces", f"observation_space is {kind}; it must be spaces.Box (or spaces.Discrete)")
        self.kind = desc["type"]
        if self.kind == "Discrete":
            self.n, self.start = _int(desc.get("n")), _int(desc.get("start", 0))
            if self.n is None or self.start is None or not 1 <= self.n <= 10**6:
                raise _CheckFailed("spaces", f"observation_space Discrete(n={desc.get('n')!r}) must have 1..1e6 values")
            self.shape: tuple[int, ...] = ()
            self.dim = self.n
            return
        shape = desc.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise _CheckFailed("spaces", f"observation_space has an unreadable shape {shape!r}")
        self.shape = tuple(shape)
        size = math.prod(self.shape)
        if size > MAX_OBSERVATION_ELEMENTS:
            raise _CheckFailed(
                "spaces", f"observation_space has {size:,} entries (shape {self.shape}); at most "
                f"{MAX_OBSERVATION_ELEMENTS:,} are accepted: observe the SAR spec's observations only"
            )
        self.dtype = str(desc.get("dtype"))
        try:
            numeric = np.dtype(self.dtype).kind in "biuf"
        except TypeError:
            numeric = False
        if not numeric:
            raise _CheckFailed("spaces", f"observation_space dtype {self.dtype!r} is not numeric; use np.float32")
        bounds = []
        for name in ("low", "high"):
            arr = desc.get(name) or {}
            if arr.get("kind") != "array" or arr.get("shape") != list(self.shape):
                raise _CheckFailed("spaces", f"observation_space.{name} is not a numeric array of shape {self.shape}")
            bounds.append(np.asarray(arr["values"], dtype=float))
        self.low, self.high = bounds
        if np.isnan(self.low).any() or np.isnan(self.high).any() or (self.low > self.high).any():
            raise _CheckFailed("spaces", "observation_space bounds contain NaN or have low > high")
        self.dim = max(size, 1)

    def problem(self, obs: Any, where: str) -> str:
        """Why ``obs`` (the child's description of one observation) is not in this space; "" when it is."""
        import numpy as np

        if not isinstance(obs, dict) or obs.get("kind") != "array":
            kind = obs.get("kind") if isinstance(obs, dict) else "?"
            detail = (obs.get("repr") or obs.get("error") or obs.get("type") or "") if isinstance(obs, dict) else ""
            return (f"{where} returned an observation that is not a numeric array ({kind}: {detail}); "
                    "return a numpy array of the observation space's shape and dtype")
        shape, dtype = tuple(obs.get("shape") or ()), str(obs.get("dtype"))
        values = np.asarray(obs.get("values") or [], dtype=float)
        if self.kind == "Discrete":
            if shape != () or np.dtype(dtype).kind not in "iu":
                return f"{where} returned {dtype} of shape {shape}; observation_space is Discrete: return an int"
            value = int(values[0])
            if not self.start <= value < self.start + self.n:
                return f"{where} returned observation {value} outside Discrete({self.n}, start={self.start})"
            return ""
        if shape != self.shape:
            return (f"{where} returned an observation of shape {shape} but observation_space declares shape "
                    f"{self.shape}; return exactly that shape")
        if dtype != self.dtype:
            return (f"{where} returned an observation of dtype {dtype} but observation_space declares {self.dtype}; "
                    f"return np.array(..., dtype=np.{self.dtype})")
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            return f"{where} returned a non-finite observation (entry {i} is {values[i]}); keep the state finite"
        flat_low, flat_high = self.low.reshape(-1), self.high.reshape(-1)
        tol = 1e-6 * np.maximum(1.0, np.maximum(np.abs(np.nan_to_num(flat_low)), np.abs(np.nan_to_num(flat_high))))
        out = (values < flat_low - tol) | (values > flat_high + tol)
        if out.any():
            i = int(np.argmax(out))
            return (f"{where} returned observation entry {i} = {_fmt(values[i])}, outside the declared bounds "
                    f"[{_fmt(flat_low[i])}, {_fmt(flat_high[i])}]; clip the state or declare the true bounds")
        return ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _reward_problem(reward: Any, where: str) -> str:
    if not isinstance(reward, dict) or reward.get("number") is not True:
        kind = reward.get("type") if isinstance(reward, dict) else "?"
        shown = reward.get("repr", reward.get("bool")) if isinstance(reward, dict) else reward
        return f"{where} returned a reward of type {kind} ({shown!r}); return a float"
    if not math.isfinite(float(reward["value"])):
        return f"{where} returned a non-finite reward ({reward['value']}); keep the reward finite"
    return ""


def _flag_problem(flag: Any, name: str, where: str) -> str:
    if not isinstance(flag, dict) or "bool" not in flag:
        kind = flag.get("type") if isinstance(flag, dict) else "?"
        return f"{where} returned {name} of type {kind}; return a bool"
    return ""


Call = Callable[[dict[str, Any], str], dict[str, Any]]


def _drive(call: Call, *, n_steps: int, seed: int, module: str | None) -> dict[str, Any]:
    """Load, reset and step an environment through ``call`` and decide every check here, in the parent."""
    import numpy as np

    report: dict[str, Any] = {"passed": False, "stage_failed": None, "error": "", "steps": 0}
    reply = call({"op": "load", "module": module}, "loading the module and constructing the env")
    if not reply.get("ok"):
        stage = reply.get("stage") if reply.get("stage") in ("import", "construct") else "construct"
        raise _CheckFailed(stage, str(reply.get("error") or "the environment could not be built"))
    report["class_name"] = str(reply.get("class_name", ""))[:200]
    obs_space = _ObservationSpace(reply.get("observation_space"))
    action = reply.get("action_space")
    if not isinstance(action, dict) or action.get("type") != "Discrete":
        kind = action.get("type") if isinstance(action, dict) else "?"
        raise _CheckFailed("spaces", f"action_space is {kind}; it must be spaces.Discrete(number of actions)")
    n_actions, start = _int(action.get("n")), _int(action.get("start", 0))
    if n_actions is None or start is None or not 1 <= n_actions <= MAX_ACTIONS:
        raise _CheckFailed("spaces", f"action_space Discrete(n={action.get('n')!r}) must have 1..{MAX_ACTIONS} actions")
    first = call({"op": "reset", "seed": seed}, "reset()")
    again = call({"op": "reset", "seed": seed}, "reset()")
    for answer in (first, again):
        if not answer.get("ok"):
            raise _CheckFailed("check_env", str(answer.get("error")))
        problem = obs_space.problem(answer.get("obs"), f"reset(seed={seed})")
        if problem:
            raise _CheckFailed("step", problem)
    if first["obs"].get("values") != again["obs"].get("values"):
        raise _CheckFailed("check_env", f"reset(seed={seed}) twice gave different observations; call "
                           "super().reset(seed=seed) first and draw randomness from self.np_random")
    rng = np.random.default_rng(seed)
    for step in range(n_steps):
        chosen = int(start + rng.integers(n_actions))
        where = f"step {step} (action {chosen})"
        answer = call({"op": "step", "action": chosen}, f"step() at step {step}")
        if not answer.get("ok"):
            raise _CheckFailed("step", str(answer.get("error")))
        problem = (obs_space.problem(answer.get("obs"), where) or _reward_problem(answer.get("reward"), where)
                   or _flag_problem(answer.get("terminated"), "terminated", where)
                   or _flag_problem(answer.get("truncated"), "truncated", where))
        if problem:
            raise _CheckFailed("step", problem)
        report["steps"] = step + 1
        if answer["terminated"]["bool"] or answer["truncated"]["bool"]:
            reset = call({"op": "reset", "seed": None}, f"reset() after step {step}")
            if not reset.get("ok"):
                raise _CheckFailed("step", str(reset.get("error")))
            problem = obs_space.problem(reset.get("obs"), f"reset() after step {step}")
            if problem:
                raise _CheckFailed("step", problem)
    checked = call({"op": "check_env"}, "gymnasium's check_env (it calls reset and step)")
    if not checked.get("ok") or checked.get("check_env_error"):
        raise _CheckFailed("check_env", str(checked.get("check_env_error") or checked.get("error")))
    report.update(passed=True, obs_dim=obs_space.dim, n_actions=n_actions)
    return report


def _checked(call: Call, *, n_steps: int, seed: int, module: str | None) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        report = _drive(call, n_steps=n_steps, seed=seed, module=module)
    except _CheckFailed as failed:
        report = {"passed": False, "stage_failed": failed.stage, "error": cap_text(str(failed)), "steps": 0}
    report["seconds"] = time.perf_counter() - start
    return report


def run_checks(
    make_env: Callable[[], Any], *, n_steps: int = 200, seed: int = 0, filename: str | None = None
) -> dict[str, Any]:
    """Check an environment built in this process (a compiled spec). Returns ``ExecutionReport`` fields as a dict.

    The same checks as for generated code: gymnasium's checker, then ``n_steps`` random steps with every observation
    validated against the declared space (shape, dtype, bounds, finiteness), every reward and flag typed and finite.

    Args:
        make_env: Builds a fresh environment.
        n_steps: Random steps to run.
        seed: Seed for reset and action sampling.
        filename: Name of a module whose frames errors should show.
    """
    host = EnvHost(make_env)
    host.filename = filename
    return _checked(lambda message, _what: host.handle(message), n_steps=n_steps, seed=seed, module=None)


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
    """Check generated environment code hosted in a sandboxed child; this process drives it and decides.

    Args:
        code: The generated module's source.
        sar: The SAR spec the spaces must agree with (None: skip that check).
        n_steps: Random steps to run.
        seed: Seed for reset and action sampling.
        limits: Sandbox limits (default: 60 s, 2 GiB); ``timeout_s`` bounds the whole check.

    Returns:
        The report; ``error`` is written for the Repair agent (capped, head and tail); ``warning`` says when the code
        ran without namespace isolation.
    """
    import alamp.env_host

    start = time.perf_counter()
    source = Path(alamp.env_host.__file__).read_text(encoding="utf-8")
    try:
        session = SandboxSession(task_source=source, files={GENERATED_MODULE: code}, limits=limits)
    except SandboxError as exc:
        return ExecutionReport(passed=False, stage_failed="sandbox", error=str(exc))

    def call(message: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            return session.request(message, what=what)
        except SandboxError as exc:
            stage = "timeout" if exc.kind == "timeout" else "sandbox"
            raise _CheckFailed(stage, str(exc)) from None

    try:
        raw = _checked(call, n_steps=n_steps, seed=seed, module=GENERATED_MODULE)
    finally:
        session.close()
    report = _to_report(raw, sar)
    report.seconds = time.perf_counter() - start
    report.isolation, report.warning = session.isolation, session.warning
    if report.warning and not report.passed:
        report.error = f"{report.error}\n{report.warning}"
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

