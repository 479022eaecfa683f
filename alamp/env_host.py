"""The child's side of the Code Executor: host one environment and answer ``load``/``reset``/``step`` requests.

This module is shipped as source into the sandboxed child (it imports nothing from alamp, so the child starts fast
and alamp's own code cannot be patched to change a verdict) and is also used in-process for compiled specs, so both
routes answer in the same form. It only *reports*: what the environment declared and returned, as plain JSON data.
The parent (``alamp.executor``) validates every answer against the declared spaces and decides pass or fail; an
answer the child forges can at worst describe an environment that would pass anyway.
"""

from __future__ import annotations

import importlib.util
import inspect
import traceback
import warnings
from pathlib import Path
from typing import Any

__all__ = ["EnvHost", "describe_space", "format_error", "handle"]

# Largest array (elements) the host sends whole; a bigger one is summarised (shape, dtype) and rejected by the parent.
MAX_ARRAY_ELEMENTS = 100_000


def format_error(exc: BaseException, filename: str | None = None) -> str:
    """Exception type and message, plus the frames in ``filename`` (the generated module) when given."""
    frames = traceback.extract_tb(exc.__traceback__)
    if filename:
        frames = [f for f in frames if Path(f.filename).name == filename] or frames[-1:]
    else:
        frames = frames[-3:]
    lines = [
        f'  File "{Path(f.filename).name}", line {f.lineno}, in {f.name}: {(f.line or "").strip()}' for f in frames
    ]
    try:
        message = f"{type(exc).__name__}: {exc}"
    except Exception:  # a hostile __str__
        message = type(exc).__name__
    if len(message) > 4000:
        message = message[:1500] + f" [... {len(message) - 3500:,} characters cut ...] " + message[-2000:]
    return "\n".join([*lines, message]) if lines else message


def _array(value: Any) -> dict[str, Any]:
    import numpy as np

    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        return {"kind": "unreadable", "type": type(value).__name__, "error": str(exc)[:300]}
    out: dict[str, Any] = {"kind": "array", "type": type(value).__name__, "dtype": str(arr.dtype),
                           "shape": list(arr.shape)}
    if arr.size > MAX_ARRAY_ELEMENTS:
        out["kind"] = "too_large"
    elif arr.dtype.kind in "biuf":
        out["values"] = arr.astype(float).reshape(-1).tolist()
    else:
        out["kind"] = "not_numeric"
        out["repr"] = repr(value)[:200]
    return out


def describe_space(space: Any) -> dict[str, Any]:
    """A gymnasium space as plain data (type, shape, dtype, bounds or n)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        desc: dict[str, Any] = {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype)}
        desc["low"] = _array(space.low)
        desc["high"] = _array(space.high)
        return desc
    return {"type": type(space).__name__}


def _number(value: Any) -> dict[str, Any]:
    import numpy as np

    kind = type(value).__name__
    if isinstance(value, bool | np.bool_):
        return {"type": kind, "bool": bool(value)}
    if isinstance(value, int | float | np.integer | np.floating):
        return {"type": kind, "value": float(value), "number": True}
    return {"type": kind, "repr": repr(value)[:200]}


class EnvHost:
    """One environment, built from a module file (child) or a factory (in-process), answering requests.

    Args:
        make_env: Builds the environment (in-process use); without it, ``load`` imports ``module``.
    """

    def __init__(self, make_env: Any = None) -> None:
        self.make_env = make_env
        self.env: Any = None
        self.env_class: Any = None
        self.filename: str | None = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request: ``load``, ``reset``, ``step``, ``check_env`` or ``close``."""
        op = request.get("op")
        try:
            if op == "load":
                return self._load(request)
            if op == "reset":
                obs, info = self.env.reset(seed=request.get("seed"))
                return {"ok": True, "obs": _array(obs), "info_type": type(info).__name__}
            if op == "step":
                obs, reward, terminated, truncated, info = self.env.step(request["action"])
                return {"ok": True, "obs": _array(obs), "reward": _number(reward), "terminated": _number(terminated),
                        "truncated": _number(truncated), "info_type": type(info).__name__}
            if op == "check_env":
                return {"ok": True, "check_env_error": self._check_env(self.env_class)}
            if op == "close":
                if self.env is not None:
                    self.env.close()
                return {"ok": True}
        except Exception as exc:  # every failure is a finding to report, not a crash
            return {"ok": False, "error": format_error(exc, self.filename)}
        return {"ok": False, "error": f"unknown request {op!r}"}

    def _load(self, request: dict[str, Any]) -> dict[str, Any]:
        env_class: Any = self.make_env
        class_name = getattr(env_class, "__name__", "")
        if env_class is None:
            path = request["module"]
            self.filename = Path(path).name
            try:
                env_class = load_env_class(path)
            except TypeError as exc:
                return {"ok": False, "stage": "construct", "error": str(exc)}
            except Exception as exc:
                return {"ok": False, "stage": "import", "error": format_error(exc, self.filename)}
            class_name = env_class.__name__
        try:
            self.env = env_class()
        except Exception as exc:
            return {"ok": False, "stage": "construct", "error": format_error(exc, self.filename)}
        reply: dict[str, Any] = {"ok": True, "class_name": class_name}
        try:
            reply["observation_space"] = describe_space(self.env.observation_space)
            reply["action_space"] = describe_space(self.env.action_space)
        except Exception as exc:
            return {"ok": False, "stage": "construct", "error": format_error(exc, self.filename)}
        self.env_class = env_class
        return reply

    def _check_env(self, env_class: Any) -> str:
        """gymnasium's own checker on a separate instance ("" when it passes); a second opinion for Repair."""
        from gymnasium.utils.env_checker import check_env

        try:
            env = env_class()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_env(env.unwrapped if hasattr(env, "unwrapped") else env, skip_render_check=True)
        except Exception as exc:
            return format_error(exc, self.filename)
        return ""


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


_HOST = EnvHost()


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """The sandbox runner's entry point: one process hosts one environment."""
    return _HOST.handle(request)
