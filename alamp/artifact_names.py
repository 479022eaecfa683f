"""Compiled programs know their LM: names that say pipeline, optimizer and LM, no silent overwrite, and the lookup
behind ``program=auto``.

A program compiled for one LM carries demos and instructions chosen by that LM's answers; loading it for another
LM is a silent handicap. So ``python -m alamp.compile`` names its artifact ``<pipeline>_<optimizer>__<lm>`` (e.g.
``alamp_labeled__qwen2.5-coder-1.5b-instruct-q4_k_m.json``), refuses to replace a file it did not write in this
invocation unless ``overwrite=true``, and ``program=auto`` loads only an artifact whose metadata names the
configured LM (``meta["lm"]["model"]``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "ArtifactExistsError",
    "artifact_name",
    "check_can_write",
    "compiled_for",
    "find_compiled_program",
    "lm_slug",
]

META_SUFFIX = ".meta.json"


class ArtifactExistsError(FileExistsError):
    """``compile`` would replace a compiled program it did not write in this invocation."""


def lm_slug(model: str) -> str:
    """A file-name-safe name of an LM: the provider prefix dropped, lower case, runs of other characters as ``-``.

    ``openai/qwen2.5-coder-1.5b-instruct-q4_k_m`` -> ``qwen2.5-coder-1.5b-instruct-q4_k_m``;
    ``anthropic/claude-sonnet-4`` -> ``claude-sonnet-4``; ``openai/Qwen/Qwen2.5-Coder-7B-Instruct`` ->
    ``qwen-qwen2.5-coder-7b-instruct``.
    """
    name = str(model).strip()
    if "/" in name:
        name = name.split("/", 1)[1]  # litellm's "provider/" prefix
    slug = re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-.")
    return slug or "unknown-lm"


def artifact_name(*, pipeline: str, optimizer: str, model: str | None) -> str:
    """``<pipeline>_<optimizer>__<lm slug>`` (just ``<pipeline>_<optimizer>`` when no LM is known)."""
    base = f"{pipeline}_{optimizer}"
    return f"{base}__{lm_slug(model)}" if model else base


def check_can_write(path: Path, *, overwrite: bool) -> None:
    """Refuse (before any work) to replace an existing compiled program unless ``overwrite`` is set.

    Raises:
        ArtifactExistsError: ``path`` exists; the message names the LM it was compiled for and both ways out.
    """
    if overwrite or not path.exists():
        return
    meta = _read_meta(path)
    model = (meta.get("lm") or {}).get("model", "an unknown LM") if isinstance(meta.get("lm"), dict) else "?"
    raise ArtifactExistsError(
        f"{path} exists (compiled for {model}, git commit {meta.get('git_commit') or '?'}); compile will not "
        "replace a program it did not write. Pass overwrite=true to replace it, or name=<other> to keep both."
    )


def find_compiled_program(*, directory: Path, pipeline: str, model: str, prefer: Path | None = None) -> Path | None:
    """The compiled program in ``directory`` for ``pipeline`` whose metadata names the LM ``model``.

    Args:
        directory: Where artifacts live.
        pipeline: The pipeline name the program must have been compiled for.
        model: The configured LM (``lm.model``), compared with ``meta["lm"]["model"]``.
        prefer: Returned when it is one of the matches (the pipeline's ``default_program``).

    Returns:
        ``prefer`` if it matches, else the newest match by modification time, else ``None``.
    """
    matches = [program for program, meta in _artifacts(directory)
               if meta.get("pipeline") == pipeline and _model_of(meta) == model]
    if not matches:
        return None
    if prefer is not None and prefer.resolve() in {m.resolve() for m in matches}:
        return prefer
    return max(matches, key=lambda p: p.stat().st_mtime)


def compiled_for(*, directory: Path, pipeline: str) -> dict[str, str]:
    """File name -> LM model of every program in ``directory`` compiled for ``pipeline`` (for messages)."""
    return {program.name: _model_of(meta) or "?" for program, meta in _artifacts(directory)
            if meta.get("pipeline") == pipeline}


def _model_of(meta: dict[str, Any]) -> str | None:
    lm = meta.get("lm")
    return lm.get("model") if isinstance(lm, dict) else None


def _artifacts(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for meta_path in sorted(Path(directory).glob(f"*{META_SUFFIX}")):
        program = meta_path.with_name(meta_path.name[: -len(META_SUFFIX)] + ".json")
        if program.is_file():
            found.append((program, _read_meta(program)))
    return found


def _read_meta(program: Path) -> dict[str, Any]:
    meta_path = program.with_name(program.stem + META_SUFFIX)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}
