# The two commands a newcomer needs: `make demo` (the main job on the embedded model) and `make test` (what CI runs).
# Each one alone sets everything up on a fresh machine (virtualenv, CPU torch, the package with its extras, the
# llama.cpp server build, the embedded model, the Hydra launchers) and is fast when that is already done.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.alamp-setup-$(shell cksum pyproject.toml | cut -d' ' -f1)
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
ARGS ?= task=cartpole

export LITELLM_LOCAL_MODEL_COST_MAP := True
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export WANDB_MODE ?= offline

.PHONY: setup sandbox-tools model demo test test-fast lint check bench clean

setup: $(STAMP) sandbox-tools

# bubblewrap isolates LLM-written code (docs/security.md). Installed with apt-get where we are root; never fails the
# build: without it alamp falls back to a plain child process and says so in every verdict.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }; }; } || \
		echo "note: bubblewrap (bwrap) is not installed; generated code will run in the weaker fallback sandbox"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet '$(TORCH_SPEC)'
	@echo "Installing alamp with extras [local,dev,fast,scale,ray] (llama-cpp-python builds from source once, ~8-10 min; pip caches it)"
	$(PY) -m pip install --quiet -e '.[local,dev,fast,scale,ray]'
	@# hydra-ray-launcher pins cloudpickle<3, dspy needs >=3.1.2; its local launcher never imports cloudpickle.
	$(PY) -m pip install --quiet --no-deps 'hydra-ray-launcher==1.2.2'
	@rm -f $(VENV)/.alamp-setup-* && touch $(STAMP)

model: setup
	$(PY) -m alamp.lm provision

demo: model
	$(PY) -m alamp.run $(ARGS)

test: model
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not llm and not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

check: model
	$(PY) -m alamp.lm check

bench: setup
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/spec_vs_gym.py
	$(PY) bench/dqn_vs_sb3.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
