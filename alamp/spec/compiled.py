"""The compiled spec and its environments: a single ``gymnasium.Env`` and batched ``VectorEnv``s (numpy or numba).

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
from alamp.spec.codegen import numba_source, scalar_namespace, scalar_source, vector_namespace, vector_source
from alamp.spec.numba_backend import NumbaKernels, bitgen_addresses, compile_kernels, numba_available, require_numba

__all__ = ["CompiledSpec", "SpecEnv", "SpecVectorEnv", "NumbaSpecVectorEnv", "BACKENDS", "NUMBA_AUTO_MIN_ENVS"]

BACKENDS = ("auto", "numpy", "numba")
"""Batched backends: ``numpy`` (always there), ``numba`` (``pip install 'alamp[fast]'``), ``auto`` (see below)."""

NUMBA_AUTO_MIN_ENVS = 256
"""``backend="auto"`` uses numba (when installed) from this many envs on, numpy below. The JIT compile (about
1 s per spec, 0.25 s from numba's disk cache in later processes) saves 20-30 us per ``step`` call, so it pays
back only after ~10^4-10^5 calls; a batch this large marks a run long enough for that. Ask for
``backend="numba"`` explicitly for long runs with smaller batches."""

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
        backend: Default backend of ``make_vec``: ``"auto"``, ``"numpy"`` or ``"numba"``.
    """

    def __init__(self, program: Program, *, backend: str = "auto") -> None:
        self.backend = _check_backend(backend)
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
        self._numba_kernels: NumbaKernels | None = None

    def __repr__(self) -> str:
        return (
            f"CompiledSpec({self.spec.id!r}, state={self.state_names}, actions={self.action_names}, "
            f"max_steps={self.max_steps})"
        )

    # ------------------------------------------------------------------------------------------- makers

    def make_env(self, *, render_mode: str | None = None) -> SpecEnv:
        """A single environment (``gymnasium.Env``) with ``set_state``/``get_state``."""
        return SpecEnv(self, render_mode=render_mode)

    def make_vec(self, num_envs: int = 1, *, backend: str | None = None, **kwargs: Any) -> SpecVectorEnv:
        """A batched ``VectorEnv`` of ``num_envs`` copies with same-step autoreset.

        Args:
            num_envs: Batch size.
            backend: ``"numpy"``, ``"numba"`` or ``"auto"`` (numba when installed and ``num_envs >=
                NUMBA_AUTO_MIN_ENVS``); default: the backend given to ``compile_spec``.
            **kwargs: Passed to the env (``render_mode``).

        Raises:
            ImportError: ``backend="numba"`` without numba installed (``pip install 'alamp[fast]'``).
        """
        chosen = self.vector_backend(num_envs, backend=backend)
        if chosen == "numba":
            explicit = (self.backend if backend is None else backend) == "numba"
            try:
                return NumbaSpecVectorEnv(self, num_envs=num_envs, **kwargs)
            except Exception as error:  # numba refusing generated code is our bug; "auto" still gives an env
                if explicit:
                    raise
                logger.warn(f"numba could not compile {self.spec.id} ({type(error).__name__}); using numpy instead")
        return SpecVectorEnv(self, num_envs=num_envs, **kwargs)

    def vector_backend(self, num_envs: int, *, backend: str | None = None) -> str:
        """The backend ``make_vec(num_envs, backend=backend)`` uses: ``"numpy"`` or ``"numba"``."""
        wanted = self.backend if backend is None else _check_backend(backend)
        if wanted == "auto":
            return "numba" if num_envs >= NUMBA_AUTO_MIN_ENVS and numba_available() else "numpy"
        return wanted

    @property
    def numba_code(self) -> str:
        """The generated source of the numba kernels (for inspection)."""
        return numba_source(self.program)

    def numba_kernels(self) -> NumbaKernels:
        """The numba kernels, JIT-compiled on first use (once per spec and process; ``compile_seconds`` says how
        long that took, 0.0 when another ``CompiledSpec`` of the same spec had already compiled them)."""
        if self._numba_kernels is None:
            self._numba_kernels = compile_kernels(self.numba_code, label=self.spec.id)
        return self._numba_kernels

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
            vector_entry_point=lambda num_envs=1, **kwargs: self.make_vec(num_envs, **kwargs),
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


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "numba":
        require_numba()
    return backend


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


class NumbaSpecVectorEnv(SpecVectorEnv):
    """``num_envs`` copies stepped by one numba-compiled loop per ``step`` (``backend="numba"``).

    Behaves as :class:`SpecVectorEnv` (same spaces, same-step autoreset, ``final_obs``, numerical-error
    containment, ``set_state``/``get_state``); the whole step, the autoresets included, is one compiled call.
    Draws come from ``np_random`` (so ``reset(seed=...)`` makes runs repeatable) in env order: for
    deterministic specs the results equal the numpy backend's, for random ones the distribution is the same but
    not the individual draws.
    """

    def __init__(self, compiled: CompiledSpec, num_envs: int = 1, render_mode: str | None = None) -> None:
        super().__init__(compiled, num_envs=num_envs, render_mode=render_mode)
        self._kernels = compiled.numba_kernels()
        k = len(compiled.state_names)
        self._n_obs = int(compiled.observation_space.shape[0])
        self._S = np.zeros((num_envs, k))
        self._last = np.zeros((num_envs, k + 1))  # state and raw reward of episodes that just ended
        self._done = np.zeros(num_envs, dtype=bool)
        self._bad = np.zeros(num_envs, dtype=bool)
        self._rng_bound: np.random.Generator | None = None
        self._rng_addresses = np.zeros(4, dtype=np.uint64)

    @property
    def jit_compile_seconds(self) -> float:
        """How long compiling this spec's kernels took (0.0 if they came from the in-process cache)."""
        return self._kernels.compile_seconds

    def _addresses(self) -> np.ndarray:
        rng = self.np_random
        if rng is not self._rng_bound:  # a new seed makes a new Generator
            self._rng_addresses = bitgen_addresses(rng.bit_generator)
            self._rng_bound = rng  # keeps the bit generator, hence the addresses, alive
        return self._rng_addresses

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(seed, list):
            seed = seed[0] if seed else None
        VectorEnv.reset(self, seed=seed)
        mask = None if options is None else options.get("reset_mask")
        if mask is None or not self._is_reset:
            mask = np.ones(self.num_envs, dtype=bool)
        mask = np.ascontiguousarray(mask, dtype=bool)
        if mask.shape != (self.num_envs,):
            raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        obs = np.empty((self.num_envs, self._n_obs), dtype=np.float32)
        self._kernels.reset(
            self._S, mask, obs, self._deadline, self._addresses(), self._clock, self.compiled.max_steps
        )
        self._is_reset = True
        return obs, {}

    def set_state(self, values: Any) -> None:
        """Set all states: an array ``(num_envs, n_state)`` in declared state order."""
        array = np.asarray(values, dtype=np.float64)
        if array.shape != self._S.shape:
            raise ValueError(f"set_state needs shape {self._S.shape}, got {array.shape}")
        self._S[:] = array
        self._is_reset = True

    def get_state(self) -> np.ndarray:
        """All states, ``(num_envs, n_state)`` float64, in declared state order."""
        return self._S.copy()

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._is_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        n = self.num_envs
        a = actions
        # the fast path takes int64 arrays as they are; anything else is checked and converted once
        if type(a) is not np.ndarray or a.dtype != np.int64 or a.shape != (n,) or not a.flags.c_contiguous:
            a = np.ascontiguousarray(self._actions(actions), dtype=np.int64)
        obs = np.empty((n, self._n_obs), dtype=np.float32)
        final_obs = np.empty((n, self._n_obs), dtype=np.float32)
        rewards = np.empty(n)
        terminated = np.empty(n, dtype=bool)
        truncated = np.empty(n, dtype=bool)
        finished = self._kernels.step(
            self._S, a, self._addresses(), obs, final_obs, self._last, rewards, terminated, truncated,
            self._done, self._bad, self._deadline, self._clock + 1, self.compiled.max_steps,
        )
        if finished < 0:
            raise ValueError(f"actions must be integers in 0..{self._n_actions - 1}, got {a[-1 - finished]!r} "
                             f"for env {-1 - finished}")
        self._clock += 1
        info: dict[str, Any] = {}
        if finished:
            done = self._done.copy()
            if self._bad.any():  # a numerical error always ends the episode
                bad = self._bad.copy()
                info["numerical_error"] = bad
                info["_numerical_error"] = bad
                if not self._warned:
                    first = int(np.flatnonzero(bad)[0])
                    last = self._last[first]
                    logger.warn(self.compiled._describe(last[:-1], float(last[-1])) + f" (env {first})")
                    self._warned = True
            info["final_obs"] = final_obs
            info["_final_obs"] = done
            info["final_info"] = {}
            info["_final_info"] = done
        return obs, rewards, terminated, truncated, info
