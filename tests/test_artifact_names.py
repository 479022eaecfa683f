"""Compiled programs know their LM: the name says pipeline, optimizer and LM; compile refuses to overwrite a file it
did not write; ``program=auto`` loads only a program compiled for the configured LM, else runs zero-shot and warns."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from alamp.artifact_names import ArtifactExistsError, artifact_name, check_can_write, find_compiled_program, lm_slug
from alamp.compile import compile_from_config
from alamp.paths import conf_dir, project_root
from alamp.run import resolve_program_path

SHIPPED = project_root() / "artifacts" / "alamp_labeled__qwen2.5-coder-1.5b-instruct-q4_k_m.json"


def _compose(config: str, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name=config, overrides=list(overrides))


def _fake_artifact(directory: Path, name: str, *, pipeline: str, model: str) -> Path:
    program = directory / f"{name}.json"
    program.write_text("{}")
    (directory / f"{name}.meta.json").write_text(json.dumps({"pipeline": pipeline, "lm": {"model": model}}))
    return program


def test_lm_slug_and_artifact_name() -> None:
    assert lm_slug("openai/qwen2.5-coder-1.5b-instruct-q4_k_m") == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert lm_slug("openai/Qwen/Qwen2.5-Coder-7B-Instruct") == "qwen-qwen2.5-coder-7b-instruct"
    assert lm_slug("gpt-4o-mini") == "gpt-4o-mini"
    assert artifact_name(pipeline="alamp", optimizer="mipro", model="anthropic/claude-sonnet-4") == \
        "alamp_mipro__claude-sonnet-4"
    assert artifact_name(pipeline="single_model", optimizer="labeled", model=None) == "single_model_labeled"


def test_the_shipped_program_is_named_for_and_recorded_with_the_embedded_model() -> None:
    meta = json.loads(SHIPPED.with_name(SHIPPED.stem + ".meta.json").read_text())
    local = _compose("run", "lm=local")
    assert meta["lm"]["model"] == local.lm.model and meta["pipeline"] == "alamp"
    assert SHIPPED.stem == artifact_name(pipeline="alamp", optimizer="labeled", model=local.lm.model)


def test_program_auto_picks_the_program_compiled_for_the_configured_lm(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="alamp.run"):
        assert resolve_program_path(_compose("run", "lm=local")) == SHIPPED
    assert "compiled for openai/qwen2.5-coder-1.5b-instruct-q4_k_m" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="alamp.run"):
        assert resolve_program_path(_compose("run", "lm=openai")) is None  # never the embedded model's program
    assert "running zero-shot" in caplog.text and SHIPPED.name in caplog.text
    assert resolve_program_path(_compose("run", "lm=openai", f"program={SHIPPED}")) == SHIPPED  # explicit wins
    assert resolve_program_path(_compose("run", "program=null")) is None


def test_find_compiled_program_prefers_the_default_then_the_newest(tmp_path: Path) -> None:
    older = _fake_artifact(tmp_path, "alamp_labeled__m", pipeline="alamp", model="openai/m")
    newer = _fake_artifact(tmp_path, "alamp_mipro__m", pipeline="alamp", model="openai/m")
    _fake_artifact(tmp_path, "single_model_labeled__m", pipeline="single_model", model="openai/m")
    _fake_artifact(tmp_path, "alamp_labeled__other", pipeline="alamp", model="openai/other")
    newer.touch()
    older.touch()  # older is now the newest file
    assert find_compiled_program(directory=tmp_path, pipeline="alamp", model="openai/m") == older
    assert find_compiled_program(directory=tmp_path, pipeline="alamp", model="openai/m", prefer=newer) == newer
    assert find_compiled_program(directory=tmp_path, pipeline="alamp", model="openai/none") is None


def test_compile_refuses_to_overwrite_before_any_work_unless_told(tmp_path: Path) -> None:
    existing = _fake_artifact(tmp_path, "alamp_labeled__qwen2.5-coder-1.5b-instruct-q4_k_m", pipeline="alamp",
                              model="openai/qwen2.5-coder-1.5b-instruct-q4_k_m")
    overrides = ["train_task_ids=[drone]", "evaluate.before=false", "evaluate.after=false", "logger=disabled",
                 f"artifacts_dir={tmp_path}", "lm_cache.enabled=false", "progress=false"]
    with pytest.raises(ArtifactExistsError, match="overwrite=true.*name=<other>"):
        compile_from_config(_compose("compile", *overrides), dev_items=[], configure_lm=False)
    assert existing.read_text() == "{}"  # untouched

    result = compile_from_config(_compose("compile", *overrides, "overwrite=true"), dev_items=[],
                                 configure_lm=False)
    assert result.program_path == existing and existing.read_text() != "{}"
    other = compile_from_config(_compose("compile", *overrides, "name=mine"), dev_items=[], configure_lm=False)
    assert other.program_path == tmp_path / "mine.json"
    check_can_write(tmp_path / "absent.json", overwrite=False)  # a new name is always fine


def test_compile_command_exits_2_naming_the_file(tmp_path: Path) -> None:
    target = tmp_path / "artifacts"
    target.mkdir()
    shutil.copy(SHIPPED, target / SHIPPED.name)
    shutil.copy(SHIPPED.with_name(SHIPPED.stem + ".meta.json"), target / (SHIPPED.stem + ".meta.json"))
    proc = subprocess.run(
        [sys.executable, "-m", "alamp.compile", f"artifacts_dir={target}", "evaluate.before=false",
         "evaluate.after=false", "logger=disabled", "progress=false", f"hydra.run.dir={tmp_path / 'out'}"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert SHIPPED.name in proc.stderr and "overwrite=true" in proc.stderr
