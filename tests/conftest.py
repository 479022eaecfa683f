"""Shared fixtures."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("WANDB_MODE", "disabled")

if TYPE_CHECKING:
    import dspy


@pytest.fixture(scope="session")
def local_lm() -> Iterator[dspy.LM]:
    """The embedded model behind a real llama_cpp.server, started once per test session (``@pytest.mark.llm``).

    Uncached (``cache: false``) so tests exercise the model, not DSPy's disk cache. Skips with the reason when
    llama-cpp-python or the model is not installed (``make test`` installs both).
    """
    from alamp.lm import LMSetupError, build_lm, ensure_model, load_lm_config, stop_local_server

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'alamp[local]', or make test)")
    cfg = load_lm_config(["lm=local", "lm.cache=false"])
    try:
        ensure_model(cfg)
    except LMSetupError as exc:
        pytest.skip(f"the local model is not available: {exc}")
    lm = build_lm(cfg)
    yield lm
    stop_local_server()
