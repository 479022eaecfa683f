"""LM faults: a refused, rate-limiting, failing, hung or garbage-speaking server ends in bounded time with a clear
cause and the LM-unavailable exit code (a tiny local server on 127.0.0.1; see tests/hostile_lm_server.py)."""

from __future__ import annotations

import contextlib
import time

import pytest
from hostile_lm_server import FakeLMServer, refused_url

from alamp.exit_codes import ExitCode, exit_code_for_status
from alamp.lm import LMConfig, build_lm, lm_unavailable_reason, load_lm_config

RETRIES = 2
TIMEOUT_S = 0.5


def _lm(url: str):
    cfg = LMConfig(backend="vllm", model="openai/fake", api_base=url, cache=False, num_retries=RETRIES,
                   request_timeout_s=TIMEOUT_S)
    return build_lm(cfg)


def _fail(mode: str) -> tuple[int | None, float, BaseException]:
    server = FakeLMServer(mode, hang_s=3.0) if mode != "refused" else None
    with server or contextlib.nullcontext():
        lm = _lm(server.url if server else refused_url())
        start = time.perf_counter()
        with pytest.raises(Exception) as caught:
            lm("hello")
        seconds = time.perf_counter() - start
    return (server.requests if server else None), seconds, caught.value


@pytest.mark.parametrize(
    ("mode", "cause", "max_tries", "max_seconds"),
    [
        ("refused", "could not be reached", None, 10.0),
        ("429", "rate-limit", RETRIES + 1, 10.0),
        ("5xx", "5xx", RETRIES + 1, 10.0),
        ("hung", "did not answer in time", RETRIES + 1, (RETRIES + 1) * (TIMEOUT_S + 3.0)),
        ("garbage", "not the API's JSON", RETRIES + 1, 10.0),
    ],
)
def test_a_failing_lm_ends_bounded_with_its_cause(mode: str, cause: str, max_tries: int | None,
                                                  max_seconds: float) -> None:
    tries, seconds, error = _fail(mode)
    reason = lm_unavailable_reason(error)
    assert reason is not None and cause in reason, (type(error), str(error)[:300])
    assert exit_code_for_status("lm_unavailable") == ExitCode.LM_UNAVAILABLE != ExitCode.OK
    if max_tries is not None:
        assert 1 <= tries <= max_tries
    if mode == "hung":  # the server would answer after 3 s; the 0.5 s request timeout cuts every try short
        assert tries == RETRIES + 1
    assert seconds < max_seconds


def test_a_healthy_server_answers() -> None:
    with FakeLMServer("ok") as server:
        assert _lm(server.url)("hello") == ["ok"]
        assert server.requests == 1


def test_a_bug_is_not_reported_as_an_unavailable_lm() -> None:
    assert lm_unavailable_reason(ValueError("a bug")) is None
    assert lm_unavailable_reason(KeyError("x")) is None


@pytest.mark.parametrize("backend", ["local", "openai", "anthropic", "ollama", "vllm"])
def test_every_backend_config_sets_a_request_timeout(backend: str) -> None:
    cfg = load_lm_config([f"lm={backend}"])
    assert 0 < cfg.request_timeout_s <= 600
