"""``llama_cpp.server`` with a lean prompt cache: what alamp runs as its local model server.

Run by path (``python _llama_server.py [llama_cpp.server arguments]``) so that it imports only llama-cpp-python, not
alamp. It is llama_cpp.server unchanged except for one class: with ``--cache true``, the server keeps the model state
after each completion and restores the one sharing the longest prefix with the next prompt, so a prompt that shares
its agent's instructions and demos with a call made a few calls earlier (the Env and Env item agents alternate) skips
evaluating them. Each stored state also holds a copy of the logits buffer (``n_batch x n_vocab`` floats: 297 MiB
for the embedded model, beside 55 MiB of model state for a 2,000-token prompt); a server with a 512 MiB cache grew
to 17 GB. Generation always evaluates at least the last prompt token again, so the stored logits are never read:
``LeanRAMCache`` keeps only their last row.
"""

from __future__ import annotations

from collections.abc import Sequence

import llama_cpp
from llama_cpp.llama import LlamaState
from llama_cpp.llama_cache import LlamaRAMCache


class LeanRAMCache(LlamaRAMCache):
    """llama-cpp-python's RAM prompt cache, storing each state without its logits buffer (one row kept)."""

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        if value.scores is not None and len(value.scores) > 1:
            value.scores = value.scores[-1:].copy()  # load_state broadcasts it over the rows it restores
        super().__setitem__(key, value)


if __name__ == "__main__":
    llama_cpp.LlamaRAMCache = LeanRAMCache  # the server builds its cache as llama_cpp.LlamaRAMCache(...)
    from llama_cpp.server.__main__ import main

    main()
