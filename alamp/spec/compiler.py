"""``compile_spec``: an :class:`~alamp.schema.env_spec.EnvSpec` (or its dict/JSON form) to a :class:`CompiledSpec`."""

from __future__ import annotations

from alamp.schema.env_spec import EnvSpec
from alamp.spec.analysis import analyse
from alamp.spec.compiled import CompiledSpec

__all__ = ["compile_spec"]


def compile_spec(spec: EnvSpec | dict | str, *, backend: str = "auto") -> CompiledSpec:
    """Check a spec and compile it to fast numpy and plain-Python step functions (and numba ones on demand).

    Every expression is parsed against the whitelist of the expression language, every name is resolved in step
    order, constant parts are folded (refusing constant division by zero and huge exponents), and unambiguous
    forms are normalised (recorded in ``CompiledSpec.normalisations``).

    Args:
        spec: The spec, as an ``EnvSpec``, a dict or a JSON string.
        backend: Default backend of ``make_vec``: ``"numpy"``, ``"numba"`` (JIT-compiled on the first
            ``make_vec``; needs ``pip install 'alamp[fast]'``) or ``"auto"`` (numba when installed and the batch
            has at least ``NUMBA_AUTO_MIN_ENVS`` envs, else numpy).

    Returns:
        The compiled spec; ``make_env()``, ``make_vec(n)`` and ``register(id)`` build environments from it.

    Raises:
        SpecError: Listing every problem found, each naming the field, the expression and the offending piece.
        ValueError: An unknown backend.
        ImportError: ``backend="numba"`` without numba installed.
    """
    return CompiledSpec(analyse(spec), backend=backend)
