"""conf/lm/*.yaml -> LMConfig -> dspy.LM, without any network or server."""

from __future__ import annotations

import logging

import dspy
import pytest

from alamp.lm import (
    LMConfig,
    LMConfigError,
    MissingAPIKeyError,
    build_adapter,
    build_lm,
    configure_dspy,
    load_lm_config,
)
from alamp.paths import conf_dir

SECRET = "sk-test-SECRET-0123456789abcdef"


def test_every_lm_conf_file_is_a_valid_config() -> None:
    names = sorted(p.stem for p in (conf_dir() / "lm").glob("*.yaml"))
    assert {"local", "openai", "anthropic", "ollama", "vllm"} <= set(names)
    for name in names:
        cfg = load_lm_config([f"lm={name}"])
        assert cfg.backend == name


def test_default_is_the_local_backend() -> None:
    cfg = load_lm_config()
    assert cfg.backend == "local"
    assert cfg.adapter == "chat"
    assert cfg.embedded is not None and cfg.embedded.parts == 22


@pytest.mark.parametrize("name", ["openai", "anthropic", "ollama", "vllm"])
def test_remote_backends_build_a_dspy_lm(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_lm_config([f"lm={name}", "lm.temperature=0.3", "lm.max_tokens=77", "lm.cache=false"])
    if cfg.api_key_env:
        monkeypatch.setenv(cfg.api_key_env, SECRET)
    lm = build_lm(cfg)
    assert isinstance(lm, dspy.LM)
    assert lm.model == cfg.model
    assert lm.kwargs["temperature"] == 0.3
    assert lm.kwargs["max_tokens"] == 77
    assert lm.cache is False
    assert lm.num_retries == cfg.num_retries
    assert lm.kwargs.get("api_base") == cfg.api_base
    if cfg.api_key_env:
        assert lm.kwargs["api_key"] == SECRET  # handed over in memory only


def test_local_backend_with_an_external_server_needs_no_managed_server() -> None:
    cfg = load_lm_config(["lm=local", "lm.api_base=http://127.0.0.1:9/v1", "lm.repeat_penalty=1.3"])
    lm = build_lm(cfg)
    assert lm.model == "openai/qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert lm.kwargs["api_base"] == "http://127.0.0.1:9/v1"
    # repeat_penalty is not an OpenAI parameter: it travels in the request body for llama_cpp.server.
    assert lm.kwargs["extra_body"] == {"repeat_penalty": 1.3}


def test_keyless_openai_compatible_backend_never_borrows_the_users_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    lm = build_lm(load_lm_config(["lm=vllm"]))
    assert lm.kwargs["api_key"] != SECRET


def test_overrides_reach_the_config() -> None:
    cfg = load_lm_config(["lm=openai", "lm.temperature=0.2", "lm.adapter=json", "lm.num_retries=0"])
    assert (cfg.temperature, cfg.adapter, cfg.num_retries) == (0.2, "json", 0)


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(LMConfigError, match=r"lm='nope'.*openai"):
        load_lm_config(["lm=nope"])


@pytest.mark.parametrize(
    ("override", "field"),
    [("lm.temperature=-1", "lm.temperature"), ("lm.adapter=xml", "lm.adapter"), ("lm.typo_field=1", "lm.typo_field")],
)
def test_bad_values_name_the_field(override: str, field: str) -> None:
    with pytest.raises(LMConfigError, match=field):
        load_lm_config(["lm=openai", override])


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match=r"ANTHROPIC_API_KEY.*export ANTHROPIC_API_KEY="):
        build_lm(load_lm_config(["lm=anthropic"]))


def test_a_key_pasted_into_api_key_env_is_refused_without_echoing_it() -> None:
    data = load_lm_config(["lm=openai"]).model_dump()
    data["api_key_env"] = SECRET
    with pytest.raises(LMConfigError, match="NAME of an environment variable") as info:
        LMConfig.from_mapping(data)
    assert SECRET not in str(info.value)


def test_the_key_never_shows_in_repr_state_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    cfg = load_lm_config(["lm=openai"])
    lm = build_lm(cfg)
    assert lm.kwargs["api_key"] == SECRET  # the key did reach the LM ...
    for text in (repr(cfg), str(cfg), cfg.model_dump_json(), repr(lm), str(lm.dump_state()), caplog.text):
        assert SECRET not in text  # ... but nothing printable or saved shows it


def test_adapter_choice() -> None:
    assert isinstance(build_adapter(load_lm_config(["lm=openai"])), dspy.ChatAdapter)
    assert type(build_adapter(load_lm_config(["lm=openai", "lm.adapter=json"]))) is dspy.JSONAdapter


def test_configure_dspy_sets_lm_and_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    before = (dspy.settings.lm, dspy.settings.adapter)
    try:
        lm = configure_dspy(load_lm_config(["lm=openai", "lm.adapter=json"]))
        assert dspy.settings.lm is lm
        assert isinstance(dspy.settings.adapter, dspy.JSONAdapter)
    finally:
        dspy.configure(lm=before[0], adapter=before[1])


def test_load_lm_config_works_inside_a_running_hydra_app() -> None:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        outer = compose(overrides=["+lm=local"])
        assert load_lm_config(["lm=openai"]).backend == "openai"
        assert compose(overrides=["+lm=vllm"]).lm.backend == "vllm"  # the app's Hydra still works
    assert LMConfig.from_mapping(outer.lm).backend == "local"
