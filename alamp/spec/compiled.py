"""The compiled spec and its environments: a single ``gymnasium.Env`` and a numpy-batched ``VectorEnv``.

Run-time numerical trouble (division by zero, overflow, nan from e.g. ``log`` of a negative number, a Poisson
draw with a negative rate) never crashes the process. Numpy computes inf/nan (warnings silenced); when a next
state variable or the reward is not finite, that environment's episode is **terminated** with reward 0, its
``info["numerical_error"]`` says which variables went bad, and a gymnasium warning is logged once per env. The
observation returned for it has nan/inf replaced by finite numbers (``numpy.nan_to_num``); a reset starts over.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import logger, spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from alamp.schema.env_spec import EnvSpec
from alamp.spec.analysis import Program
from alamp.spec.codegen import scalar_namespace, scalar_source, vector_namespace, vector_source

__all__ = ["CompiledSpec", "SpecEnv", "SpecVectorEnv"]

_RECOVERABLE = (ArithmeticError, ValueError, TypeError)
"""What plain-float scalar code raises where numpy would return inf/nan; the step is then redone with numpy."""

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

SCALAR_BATCH_LIMIT = 2
"""Batches up to this size step env by env on Python floats, which beats numpy's per-call overhead there."""


def _bounds(program: Program) -> tuple[np.ndarray, np.ndarray]:
    by_name = {s.name: s for s in program.spec.state}
    low, high = [], []
    for step in program.observation:
        tree = step.tree
        var = by_name.get(getattr(tree, "id", ""))
        low.append(var.low if var is not None else -np.inf)
        high.append(var.high if var is not None else np.inf)
    return np.array(low, dtype=np.float32), np.array(high, dtype=np.float32)


def _quietly(function: Any, *args: Any) -> Any:
    """Call ``function``; if numpy raised over inf/nan (``np.seterr`` or warnings set to errors), redo it quietly.

    The fast path pays nothing for this (``np.errstate`` costs more than a whole small numpy operation).
    """
    try:
        return function(*args)
    except (FloatingPointError, RuntimeWarning):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return function(*args)


def _all_finite(array: np.ndarray) -> bool:
    try:
        return math.isfinite(array.sum())  # one reduction; inf or nan anywhere makes the sum non-finite
    except (FloatingPointError, RuntimeWarning):
        return False


class CompiledSpec:
    """A spec compiled to Python functions; makes single and batched gymnasium environments.

    Attributes:
        spec: The spec it was compiled from.
        normalisations: What was rewritten on the way (e.g. ``"updates[0] (...): np.sin -> sin"``).
        state_names: State variables, in declared order (the order of ``set_state``/``get_state``).
        action_names: Actions, in order (action ``i`` is ``action_names[i]``).
        observation_space: ``Box(float32)`` from the state bounds (``-inf..inf`` for computed observations).
        action_space: ``Discrete(len(actions))``.
        max_steps: Episodes are truncated after this many steps.
        vector_code: The generated numpy source (for inspection).
        scalar_code: The generated plain-Python source (for inspection).
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self.spec: EnvSpec = program.spec
        self.normalisations: list[str] = list(program.normalisations)
        self.state_names: list[str] = list(program.state_names)
        self.action_names: list[str] = [a.name for a in program.spec.actions]
        self.max_steps: int = program.spec.max_steps
        low, high = _bounds(program)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Discrete(len(self.action_names))
        self.vector_code, tables = vector_source(program)
        self.scalar_code = scalar_source(program)
        vector_globals = vector_namespace(tables)
        exec(compile(self.vector_code, f"<alamp-spec vector {self.spec.id}>", "exec"), vector_globals)  # noqa: S102
        scalar_globals = scalar_namespace()
        exec(compile(self.scalar_code, f"<alamp-spec scalar {self.spec.id}>", "exec"), scalar_globals)  # noqa: S102
        self._vstep = vector_globals["_vstep"]
        self._vinit = vector_globals["_vinit"]
        self._vobs = vector_globals["_vobs"]
        self._sstep = scalar_globals["_sstep"]
        self._sinit = scalar_globals["_sinit"]
        self._sobs = scalar_globals["_sobs"]

    def __repr__(self) -> str:
        return (
            f"CompiledSpec({self.spec.id!r}, state={self.state_names}, actions={self.action_names}, "
            f"max_steps={self.max_steps})"
        )

    # ------------------------------------------------------------------------------------------- makers

    def make_env(self, *, render_mode: str | None = None) -> SpecEnv:
        """A single environment (``gymnasium.Env``) with ``set_state``/``get_state``."""
        return SpecEnv(self, render_mode=render_mode)

    def make_vec(self, num_envs: int = 1, **kwargs: Any) -> SpecVectorEnv:
        """A numpy-batched ``VectorEnv`` of ``num_envs`` copies with same-step autoreset."""
        return SpecVectorEnv(self, num_envs=num_envs, **kwargs)

    def register(self, env_id: str | None = None) -> str:
        """Register with gymnasium (``gym.make(id)`` and ``gym.make_vec(id)`` then work); returns the id.

        Args:
            env_id: The id (``"namespace/Name-v0"``); default: the spec's ``id``.
        """
        env_id = env_id or self.spec.id
        if env_id in gym.registry:
            del gym.registry[env_id]
        gym.register(
            id=env_id,
            entry_point=lambda **kwargs: SpecEnv(self, **kwargs),
            vector_entry_point=lambda num_envs=1, **kwargs: SpecVectorEnv(self, num_envs=num_envs, **kwargs),
            disable_env_checker=True,
        )
        return env_id

    # ------------------------------------------------------------------------------------------ kernels

    def _step_one(
        self, state: tuple[float, ...], action: int, rng: np.random.Generator
    ) -> tuple[tuple[float, ...], float, bool, str]:
        """One transition of one env: (next state, reward, terminated, numerical-error message or "")."""
        try:
            new, reward, terminated = self._sstep(state, action, rng)
            total = sum(new) + reward  # complex values make math.isfinite raise TypeError below
            finite = math.isfinite(total)
        except _RECOVERABLE:
            new, reward, terminated = self._step_one_numpy(state, action, rng)
            finite = False
        if finite:
            return new, reward, terminated, ""
        if all(math.isfinite(v) for v in new) and math.isfinite(reward):
            return new, reward, terminated, ""
        return new, (reward if math.isfinite(reward) else 0.0), True, self._describe(np.array(new, dtype=float), reward)

    def _step_one_numpy(
        self, state: tuple[float, ...], action: int, rng: np.random.Generator
    ) -> tuple[tuple[float, ...], float, bool]:
        current = np.array(state, dtype=np.float64).reshape(-1, 1)
        out = np.empty((current.shape[0] + 1, 1))
        with np.errstate(all="ignore"):
            terminated = self._vstep(current, np.array([action], dtype=np.intp), rng, 1, out)
        values = out[:, 0].tolist()
        return tuple(values[:-1]), values[-1], bool(terminated[0])

    def _describe(self, state: np.ndarray, reward: float) -> str:
        values = zip(self.state_names, state.tolist(), strict=True)
        bad = [f"{name}={value}" for name, value in values if not math.isfinite(value)]
        if not math.isfinite(reward):
            bad.append(f"reward={reward}")
        return (
            f"numerical error in {self.spec.id}: {', '.join(bad)} after the step (a division by zero, an overflow "
            "or an invalid operation such as log or sqrt of a negative number); the episode was terminated"
        )

    def _reset_one(self, rng: np.random.Generator) -> tuple[float, ...]:
        try:
            state = self._sinit(rng)
            if math.isfinite(sum(state)):
                return state
        except _RECOVERABLE:
            pass
        out = np.empty((len(self.state_names), 1))
        with np.errstate(all="ignore"):
            self._vinit(rng, 1, out)
        return tuple(np.nan_to_num(out[:, 0]).tolist())

    def _observe_one(self, state: tuple[float, ...]) -> np.ndarray:
        try:
            values = self._sobs(state)
            obs = np.array(values, dtype=np.float32)
        except (*_RECOVERABLE, RuntimeWarning):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                obs = self._vobs(np.array(state, dtype=np.float64).reshape(-1, 1), 1)[0]
        if not np.isfinite(obs).all():
            obs = np.nan_to_num(obs, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)
        return obs


class SpecEnv(gym.Env[np.ndarray, int]):
    """One environment compiled from a spec."""

    metadata = {"render_modes": []}

    def __init__(self, compiled: CompiledSpec, render_mode: str | None = None) -> None:
        self.compiled = compiled
        self.render_mode = render_mode
        self.observation_space = compiled.observation_space
        self.action_space = compiled.action_space
        self._state: tuple[float, ...] | None = None
        self._steps = 0
        self._warned = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._state = self.compiled._reset_one(self.np_random)
        self._steps = 0
        return self.compiled._observe_one(self._state), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        index = _action_index(action, self.action_space.n)
        new, reward, terminated, error = self.compiled._step_one(self._state, index, self.np_random)
        self._state = new
        self._steps += 1
        info: dict[str, Any] = {}
        if error:
            info["numerical_error"] = error
            if not self._warned:
                logger.warn(error)
                self._warned = True
        return self.compiled._observe_one(new), reward, terminated, self._steps >= self.compiled.max_steps, info

    def set_state(self, values: Any) -> None:
        """Set the state: a sequence in declared state order, or a mapping from state names to values."""
        self._state = _state_tuple(values, self.compiled.state_names)

    def get_state(self) -> np.ndarray:
        """The state as float64, in declared state order."""
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before get_state()")
        return np.array(self._state, dtype=np.float64)

    def render(self) -> None:
        return None


def _action_index(action: Any, n: int) -> int:
    if isinstance(action, np.ndarray) and action.shape == (1,):
        action = action[0]
    if isinstance(action, bool) or not isinstance(action, int | np.integer) or not 0 <= action < n:
        raise ValueError(f"action {action!r} is not an integer in 0..{n - 1}")
    return int(action)


def _state_tuple(values: Any, names: list[str]) -> tuple[float, ...]:
    if isinstance(values, dict):
        unknown = set(values) - set(names)
        missing = [n for n in names if n not in values]
        if unknown or missing:
            raise ValueError(f"set_state: unknown names {sorted(unknown)}, missing names {missing}; state is {names}")
        values = [values[n] for n in names]
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (len(names),):
        raise ValueError(f"set_state needs {len(names)} values ({', '.join(names)}), got {array.size}")
    return tuple(array.tolist())


class SpecVectorEnv(VectorEnv):
    """``num_envs`` copies stepped together with numpy; same-step autoreset.

    When an episode ends, that env is reset within the same ``step`` call: the returned observation is the
    first one of the new episode, ``info["final_obs"]`` (``(num_envs, obs_dim)`` float32) holds the last one
    of the finished episode in the rows where ``info["_final_obs"]`` is True.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, compiled: CompiledSpec, num_envs: int = 1, render_mode: str | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.compiled = compiled
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.single_observation_space = compiled.observation_space
        self.single_action_space = compiled.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        k = len(compiled.state_names)
        # two buffers (this step reads one and writes the other); each has an extra last row for the reward
        self._buffers = [np.zeros((k + 1, num_envs)), np.zeros((k + 1, num_envs))]
        self._views = [buffer[:k] for buffer in self._buffers]
        self._current = 0
        self._clock = 0  # step calls so far; an env is truncated when the clock reaches its deadline
        self._deadline = np.full(num_envs, compiled.max_steps, dtype=np.int64)
        self._n_actions = compiled.action_space.n
        self._scalar = num_envs <= SCALAR_BATCH_LIMIT
        self._warned = False
        self._is_reset = False

    @property
    def _state(self) -> np.ndarray:
        return self._views[self._current]

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(seed, list):
            seed = seed[0] if seed else None
        super().reset(seed=seed)
        mask = None if options is None else options.get("reset_mask")
        state = self._state
        if mask is None or not self._is_reset:
            _quietly(self.compiled._vinit, self.np_random, self.num_envs, state)
            self._deadline[:] = self._clock + self.compiled.max_steps
        else:
            index = np.flatnonzero(np.asarray(mask, dtype=bool))
            state[:, index] = self.compiled._vinit(self.np_random, index.size, np.empty((state.shape[0], index.size)))
            self._deadline[index] = self._clock + self.compiled.max_steps
        self._is_reset = True
        return _quietly(self.compiled._vobs, state, self.num_envs), {}

    def set_state(self, values: Any) -> None:
        """Set all states: an array ``(num_envs, n_state)`` in declared state order."""
        array = np.asarray(values, dtype=np.float64)
        if array.shape != (self.num_envs, len(self.compiled.state_names)):
            raise ValueError(
                f"set_state needs shape ({self.num_envs}, {len(self.compiled.state_names)}), got {array.shape}"
            )
        self._state[:] = array.T
        self._is_reset = True

    def get_state(self) -> np.ndarray:
        """All states, ``(num_envs, n_state)`` float64, in declared state order."""
        return self._state.T.copy()

    def _actions(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {a.shape}")
        kind = a.dtype.kind
        if kind not in "iu":
            if kind == "f" and np.array_equal(a, np.round(a)):
                a = a.astype(np.intp)
            else:
                raise ValueError(f"actions must be integers in 0..{self._n_actions - 1}, got dtype {a.dtype}")
        # one reduction: negative signed values become huge when viewed as unsigned
        unsigned = a.view(_UNSIGNED[a.dtype.itemsize]) if kind == "i" else a
        if unsigned.max() >= self._n_actions:
            raise ValueError(f"actions must be integers in 0..{self._n_actions - 1}, got {a}")
        return a

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._is_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        a = self._actions(actions)
        compiled = self.compiled
        n = self.num_envs
        state = self._state
        info: dict[str, Any] = {}
        if self._scalar:
            rewards = np.empty(n)
            terminated = np.empty(n, dtype=bool)
            errors = []
            for i in range(n):
                current = tuple(state[:, i].tolist())
                new, rewards[i], terminated[i], error = compiled._step_one(current, int(a[i]), self.np_random)
                state[:, i] = new
                if error:
                    errors.append(i)
            bad = None
            if errors:
                bad = np.zeros(n, dtype=bool)
                bad[errors] = True
        else:
            out = self._buffers[1 - self._current]
            terminated = _quietly(compiled._vstep, state, a, self.np_random, n, out)
            self._current = 1 - self._current
            state = self._views[self._current]
            rewards = out[-1].copy()
            bad = None
            if not _all_finite(out):
                bad = ~(np.isfinite(state).all(axis=0) & np.isfinite(rewards))
                if bad.any():
                    terminated = terminated | bad
                    rewards[~np.isfinite(rewards)] = 0.0
                else:
                    bad = None
        if bad is not None:
            info["numerical_error"] = bad
            info["_numerical_error"] = bad
            if not self._warned:
                first = int(np.flatnonzero(bad)[0])
                logger.warn(compiled._describe(state[:, first], float(rewards[first])) + f" (env {first})")
                self._warned = True
        self._clock += 1
        truncated = self._deadline <= self._clock
        obs = _quietly(compiled._vobs, state, n)
        done = terminated | truncated
        if np.count_nonzero(done):  # cheaper than done.any() for a bool array
            index = done.nonzero()[0]
            if bad is not None:
                obs = np.nan_to_num(obs, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)
            final_obs = obs
            obs = obs.copy()
            fresh = _quietly(compiled._vinit, self.np_random, index.size, np.empty((state.shape[0], index.size)))
            state[:, index] = fresh
            self._deadline[index] = self._clock + compiled.max_steps
            obs[index] = _quietly(compiled._vobs, fresh, index.size)
            info["final_obs"] = final_obs
            info["_final_obs"] = done
            info["final_info"] = {}
            info["_final_info"] = done
        return obs, rewards, terminated, truncated, info
