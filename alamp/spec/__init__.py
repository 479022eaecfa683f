"""The declarative environment spec: a safe expression language, a compiler to batched gymnasium envs, an emitter.

Public API::

    from alamp.spec import compile_spec, CompiledSpec, SpecError, emit_python
    compiled = compile_spec(spec)        # raises SpecError listing every problem
    env = compiled.make_env()            # gymnasium.Env with set_state / get_state
    venv = compiled.make_vec(64)         # batched VectorEnv, same-step autoreset (backend="numpy"|"numba"|"auto")
    source = emit_python(spec)           # a standalone, readable env.py (numpy + gymnasium only)
"""

from alamp.spec.compiled import CompiledSpec, NumbaSpecVectorEnv, SpecEnv, SpecVectorEnv
from alamp.spec.compiler import compile_spec
from alamp.spec.emit import emit_python
from alamp.spec.errors import SpecError

__all__ = ["compile_spec", "CompiledSpec", "SpecError", "emit_python", "SpecEnv", "SpecVectorEnv", "NumbaSpecVectorEnv"]
