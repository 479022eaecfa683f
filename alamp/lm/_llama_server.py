"""``llama_cpp.server`` with a lean prompt cache: what alamp runs as its local model server.

Run by path (``python _llama_server.py [llama_cpp.server arguments]``) so that it imports only llama-cpp-python, not
alamp. It is llama_cpp.server unchanged except for one class: with ``--cache true``, the server keeps the model state
after each completion and restores the one sharing the longest prefix with the next prompt, so a prompt that shares
its agent's instructions and demos with a call made a few calls earlier (the Env and Env item agents alternate) skips
evaluating them. Each stored state also holds a copy of the logits buffer (``n_batch x n_vocab`` floats: 297 MiB
for the embedded model, beside 55 MiB of model state for a 2,000-token prompt); a server with a 512 MiB cache grew
to 17 GB. Generation always evaluates at least the last prompt token again, so the stored logits are never read:
``LeanRAMCache`` keeps only their last row.

With ``--cache_type disk`` the states are kept on disk (``LeanDiskCache``, in the folder given by alamp's own
``--prompt_cache_dir`` argument, which this wrapper takes out before llama_cpp.server reads the rest), so the next
run finds each agent's instructions and demo evaluated already; alamp names the folder after the model, the context
length and the llama-cpp-python version, as a state fits only the model and settings that made it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

import diskcache
import llama_cpp
from llama_cpp.llama import LlamaState
from llama_cpp.llama_cache import LlamaDiskCache, LlamaRAMCache


def _lean(value: LlamaState) -> LlamaState:
    if value.scores is not None and len(value.scores) > 1:
        value.scores = value.scores[-1:].copy()  # Llama.load_state broadcasts it over the rows it restores
    return value


class LeanRAMCache(LlamaRAMCache):
    """llama-cpp-python's RAM prompt cache, storing each state without its logits buffer (one row kept)."""

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        super().__setitem__(key, _lean(value))


class LeanDiskCache(LlamaDiskCache):
    """llama-cpp-python's disk prompt cache, storing each state without its logits buffer (one row kept), and
    keeping a state it hands out (the library's pops it: every call then took the one state sharing the chat
    template's first tokens with it, and the cache never held more than the last call's)."""

    def __init__(self, cache_dir: str = ".cache/llama_cache", capacity_bytes: int = 2 << 30) -> None:
        super().__init__(cache_dir=cache_dir, capacity_bytes=capacity_bytes)
        # diskcache culls by itself at its own size limit (1 GiB by default, about 16 states: one run's), oldest stored
        # first; bounded by the capacity asked for instead, least recently used first, each agent's state stays.
        self.cache = diskcache.Cache(cache_dir, size_limit=capacity_bytes, eviction_policy="least-recently-used")

    def __getitem__(self, key: Sequence[int]) -> LlamaState:
        found = self._find_longest_prefix_key(tuple(key))
        if found is None:
            raise KeyError("Key not found")
        return self.cache[found]

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        super().__setitem__(key, _lean(value))


def take_option(argv: list[str], name: str) -> tuple[list[str], str | None]:
    """``argv`` without ``name VALUE``, and VALUE (None when absent)."""
    if name not in argv:
        return argv, None
    at = argv.index(name)
    if at + 1 >= len(argv):
        raise SystemExit(f"{name} needs a value")
    return argv[:at] + argv[at + 2 :], argv[at + 1]


def main() -> None:
    sys.argv, folder = take_option(sys.argv, "--prompt_cache_dir")
    # The server builds its cache as llama_cpp.LlamaRAMCache(...) / llama_cpp.LlamaDiskCache(...).
    llama_cpp.LlamaRAMCache = LeanRAMCache
    llama_cpp.LlamaDiskCache = functools.partial(LeanDiskCache, folder) if folder else LeanDiskCache
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
