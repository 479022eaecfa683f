"""The optional numba backend: a spec's step compiled with ``numba.njit``, looping over the batch.

numba is an optional dependency (``pip install 'alamp[fast]'``); nothing here imports it before it is needed,
so ``import alamp.spec`` stays cheap and works without it.

Randomness: the kernels draw from the env's own numpy bit generator (``env.np_random.bit_generator``), through
the C functions numpy exposes for it (``bit_generator.ctypes``) and numba's ports of numpy's distribution
algorithms. Seeding the env therefore seeds the kernels, draws are numpy's own (``uniform`` is ``random()``
scaled, ``normal`` is numpy's ziggurat, ``poisson`` numpy's PTRS/multiplication methods), and the stream is
per env instance, not a process-wide state. Passing a ``Generator`` object into a numba function would do the
same but costs ~10 us per call (unboxing); passing four addresses costs nothing.

Compiled kernels are cached by the hash of their generated source: within the process (one compile per spec,
however many vector envs are made from it), and on disk under ``<cache_dir>/numba/`` (numba caches by source
file, so the generated source is written there as a module named by its hash, then ``njit(cache=True)``): a
spec compiled once loads in a fraction of the compile time in later processes. That folder is alamp's own (created
0700, refused if another user owns it or it is a symlink), and a module file there is imported only if its bytes
are exactly those the source makes; where the folder cannot be used, the kernels are compiled in memory.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alamp.paths import cache_dir
from alamp.spec.functions import numba_helpers

__all__ = [
    "numba_available", "require_numba", "NumbaKernels", "compile_kernels", "bitgen_addresses", "kernel_globals",
    "numba_cache_dir",
]

INSTALL_HINT = "pip install 'alamp[fast]'"


def numba_available() -> bool:
    """Whether numba can be imported (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def require_numba() -> None:
    """Raise an ``ImportError`` naming the extra to install when numba is missing."""
    if not numba_available():
        raise ImportError(f"backend='numba' needs numba, which is not installed; install it with: {INSTALL_HINT}")


@dataclass
class NumbaKernels:
    """The compiled kernels of one spec.

    Attributes:
        step: ``_nb_step`` (see :func:`alamp.spec.codegen.numba_source`).
        reset: ``_nb_reset``.
        compile_seconds: Wall time the JIT compile (or the load from the disk cache) took; 0.0 when the kernels
            came from the in-process cache.
        source_file: The generated module they were compiled from (None when compiled in memory).
    """

    step: Any
    reset: Any
    compile_seconds: float
    source_file: Path | None = None


_CACHE: dict[str, NumbaKernels] = {}
_HELPERS: dict[str, Any] = {}


def bitgen_addresses(bit_generator: np.random.BitGenerator) -> np.ndarray:
    """``[state, next_uint64, next_uint32, next_double]`` addresses of a numpy bit generator, as uint64.

    The caller must keep ``bit_generator`` alive while the addresses are used.
    """
    interface = bit_generator.ctypes
    return np.array(
        [
            interface.state_address,
            ctypes.cast(interface.next_uint64, ctypes.c_void_p).value,
            ctypes.cast(interface.next_uint32, ctypes.c_void_p).value,
            ctypes.cast(interface.next_double, ctypes.c_void_p).value,
        ],
        dtype=np.uint64,
    )


def kernel_globals() -> dict[str, Any]:
    """Globals of the generated kernels (built once, on first use, because they need numba)."""
    return {k: v for k, v in _helpers().items() if k != "__builtins__"}


def _helpers() -> dict[str, Any]:
    """Globals of the generated kernels (built once, on first use, because they need numba)."""
    if _HELPERS:
        return _HELPERS
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic
    from numba.np.random.distributions import random_poisson, random_standard_normal
    from numba.np.random.generator_core import next_double

    bit_generator_type = types.NumPyRandomBitGeneratorType("bit_generator")

    @intrinsic
    def bitgen(typingctx: Any, state: Any, next_u64: Any, next_u32: Any, next_dbl: Any) -> Any:
        """The bit-generator struct numba's numpy-random code uses, built from the four addresses."""
        signature = bit_generator_type(types.uint64, types.uint64, types.uint64, types.uint64)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            struct = cgutils.create_struct_proxy(bit_generator_type)(context, builder)
            struct.parent = cgutils.get_null_value(struct.parent.type)
            struct.state_address = args[0]
            struct.state = args[0]
            struct.fnptr_next_uint64 = args[1]
            struct.fnptr_next_uint32 = args[2]
            struct.fnptr_next_double = args[3]
            struct.bit_generator = cgutils.get_null_value(struct.bit_generator.type)
            return struct._getvalue()

        return signature, codegen

    f32_max = np.float32(np.finfo(np.float32).max)
    f64_max = float(np.finfo(np.float64).max)
    jit = njit(cache=False, error_model="numpy")

    @jit
    def finite32(value: float) -> np.float32:
        """float32, with nan -> 0 and +-inf (or overflow) -> the largest float32, as ``numpy.nan_to_num``."""
        single = np.float32(value)
        if single != single:
            return np.float32(0.0)
        if single > f32_max:
            return f32_max
        if single < -f32_max:
            return -f32_max
        return single

    @jit
    def finite64(value: float) -> float:
        number = float(value)
        if number != number:
            return 0.0
        if number > f64_max:
            return f64_max
        if number < -f64_max:
            return -f64_max
        return number

    @jit
    def draw_poisson(bg: Any, lam: float) -> float:
        # numpy raises on these rates; the numpy backend gives nan, which the env then contains
        if not (lam >= 0.0 and lam < 1e9):
            return np.nan
        return float(random_poisson(bg, lam))

    _HELPERS.update(
        {
            "__builtins__": {},
            "_np": np,
            "_range": range,
            "_float": float,
            "_int": int,
            "_isfinite": math.isfinite,
            **numba_helpers(),
            "_bitgen": bitgen,
            "_next_double": next_double,
            "_standard_normal": random_standard_normal,
            "_draw_poisson": draw_poisson,
            "_finite32": finite32,
            "_finite64": finite64,
        }
    )
    return _HELPERS


def compile_kernels(source: str, *, label: str) -> NumbaKernels:
    """Compile the generated kernels (or return them from the in-process cache).

    Compiled eagerly for the one signature the vector env calls them with, so that the compile happens here,
    timed, and never again on a later call with other argument types.

    Args:
        source: Output of :func:`alamp.spec.codegen.numba_source`.
        label: Names the spec in the generated code's file name.
    """
    require_numba()
    key = _source_key(source)
    cached = _CACHE.get(key)
    if cached is not None:
        return NumbaKernels(cached.step, cached.reset, 0.0, cached.source_file)
    from numba import njit, types

    start = time.perf_counter()
    helpers = _helpers()
    path = _write_module(source, key=key)
    if path is not None:
        module_spec = importlib.util.spec_from_file_location(f"alamp_spec_numba_{key[:20]}", path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module  # numba's disk cache re-imports the module of a cached function
        module_spec.loader.exec_module(module)
        namespace = vars(module)
    else:
        namespace = dict(helpers)
        # safe: the source is built from the checked, whitelisted trees (see alamp.spec.codegen), no builtins
        exec(compile(source, f"<alamp-spec numba {label}>", "exec"), namespace)  # noqa: S102
    options = {"cache": path is not None, "error_model": "numpy"}
    for helper in ("_nb_init", "_nb_obs"):
        namespace[helper] = njit(**options)(namespace[helper])
    f64_2d, f32_2d = types.float64[:, ::1], types.float32[:, ::1]
    f64_1d, bool_1d, i64_1d, u64_1d = types.float64[::1], types.boolean[::1], types.int64[::1], types.uint64[::1]
    reset_signature = types.int64(f64_2d, bool_1d, f32_2d, i64_1d, u64_1d, types.int64, types.int64)
    step_signature = types.int64(
        f64_2d, i64_1d, u64_1d, f32_2d, f32_2d, f64_2d, f64_1d, bool_1d, bool_1d, bool_1d, bool_1d, i64_1d,
        types.int64, types.int64,
    )
    reset = njit(reset_signature, **options)(namespace["_nb_reset"])
    step = njit(step_signature, **options)(namespace["_nb_step"])
    kernels = NumbaKernels(step, reset, time.perf_counter() - start, path)
    _CACHE[key] = kernels
    return kernels


def _source_key(source: str) -> str:
    """Hash of everything the compiled code depends on: the source, this module's helpers, numba's version."""
    import numba

    digest = hashlib.sha256(source.encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(numba.__version__.encode())
    return digest.hexdigest()


def numba_cache_dir() -> Path | None:
    """alamp's own folder for generated kernel modules and numba's cache files (``<cache_dir>/numba``).

    Created private (0700); refused (None: compile in memory) when it is not a real directory owned by this user,
    or group/world-writable and cannot be made private. Only this user can then plant a module or a numba index
    file there, and such a user could change the virtualenv as well.
    """
    path = cache_dir() / "numba"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
        if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid():
            return None
        if info.st_mode & 0o077:
            path.chmod(0o700)
    except OSError:
        return None
    return path


def _write_module(source: str, *, key: str) -> Path | None:
    """The generated source as a module file named by its hash; None if alamp's cache folder is not usable.

    An existing file is used only when its bytes are exactly the module this source makes (checked on every
    load, so a file changed after it was written is replaced, never imported); otherwise it is written afresh,
    atomically.
    """
    folder = numba_cache_dir()
    if folder is None:
        return None
    path = folder / f"spec_{key[:20]}.py"
    header = (
        # No spec text (its id may be agent-written) goes into the file: its bytes follow from the source alone.
        '"""numba kernels generated by alamp.spec (see alamp.spec.codegen.numba_source)."""\n\n'
        "from alamp.spec.numba_backend import kernel_globals\n\n"
        "globals().update(kernel_globals())\n\n\n"
    )
    expected = (header + source).encode()
    try:
        if path.is_file() and not path.is_symlink() and path.read_bytes() == expected:
            return path
    except OSError:
        pass
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(expected)
        os.replace(temporary, path)  # concurrent writers write the same bytes; the last rename wins
    except OSError:
        return None
    return path
