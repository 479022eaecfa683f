"""A ``dspy.LM`` bound to the process-wide local server rather than to one port.

The server is a child process; it can die (OOM killer, a user's ``kill``) or be replaced (another configuration
asked for a different one). A plain ``dspy.LM`` keeps the ``api_base`` it was built with and then fails every call
with "Connection error". This one asks :func:`alamp.lm.server.get_local_server` before each call, which returns the
live server (restarting a dead one on a fresh port), and points the call at it. DSPy's cache key ignores
``api_base``, so a restart never invalidates cached answers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import dspy

from alamp.lm.server import get_local_server

if TYPE_CHECKING:
    from alamp.lm.config import LMConfig

__all__ = ["LocalServerLM"]

_CONNECTION_REFUSED = re.compile(r"Connection error|Connection refused|ConnectError", re.IGNORECASE)


class LocalServerLM(dspy.LM):
    """``dspy.LM`` whose ``api_base`` follows the shared local server (restarted if it died).

    Args:
        model: The LiteLLM model string (``openai/<served name>``).
        server_config: The ``backend: local`` configuration the server is started from.
        **kwargs: Everything else ``dspy.LM`` takes (temperature, max_tokens, cache, ...).
    """

    def __init__(self, model: str, *, server_config: LMConfig, **kwargs: Any) -> None:
        self.server_config = server_config
        kwargs["api_base"] = get_local_server(server_config).base_url
        super().__init__(model, **kwargs)

    def _follow_server(self) -> None:
        # Process liveness only (no HTTP probe: see get_local_server); a dead server is restarted on a new port.
        self.kwargs["api_base"] = get_local_server(self.server_config, probe=False).base_url

    def _recover(self, error: Exception) -> bool:
        """After a refused connection, probe the server (restarting a dead one); True if the call should be retried.

        A killed server can still look alive for a moment (its process is reaped only after all its threads exit),
        so the liveness check before the call can pass and the call be refused.
        """
        if not _CONNECTION_REFUSED.search(str(error)):
            return False
        self.kwargs["api_base"] = get_local_server(self.server_config, probe=True).base_url
        return True

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        self._follow_server()
        try:
            return super().__call__(prompt, messages=messages, **kwargs)
        except Exception as error:
            if not self._recover(error):
                raise
        return super().__call__(prompt, messages=messages, **kwargs)

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        self._follow_server()
        try:
            return await super().acall(prompt, messages=messages, **kwargs)
        except Exception as error:
            if not self._recover(error):
                raise
        return await super().acall(prompt, messages=messages, **kwargs)
