"""Save and load compiled programs: DSPy's JSON state plus a metadata file that guards the program's structure.

A compiled program is two files in ``artifacts/``:

- ``<name>.json``: DSPy's own state (``module.save(path)``): per predictor its demos and instructions;
- ``<name>.meta.json``: who made it and how (alamp and dspy versions, git commit, LM, optimizer and its
  config, task ids, scores before/after, wall time, LM calls and tokens) and a *structure fingerprint*: for each
  named predictor, its signature's input and output field names and types.

Why the fingerprint: DSPy restores a predictor's field prefixes and descriptions by *position*
(``Signature.load_state`` zips saved fields with current ones), so a program saved before a field was added,
removed or renamed loads silently with every label shifted. :func:`load_program` compares the fingerprint of
the saved program with the program it loads into and refuses, naming the predictor and fields, when they differ.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import tempfile
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dspy

from alamp.paths import artifacts_dir, project_root

__all__ = [
    "META_SUFFIX",
    "ALLOWED_CLASSES",
    "CorruptArtifactError",
    "MAX_ARTIFACT_BYTES",
    "TRUSTED_MODULE_PREFIXES",
    "FORMAT_VERSION",
    "ProgramStructureError",
    "structure_fingerprint",
    "compare_fingerprints",
    "meta_path_for",
    "save_program",
    "load_program",
    "read_metadata",
    "atomic_write_text",
    "git_commit",
]

META_SUFFIX = ".meta.json"
FORMAT_VERSION = 1


class ProgramStructureError(ValueError):
    """The saved program's structure (predictors, fields, types) differs from the program it is loaded into."""


def _type_name(annotation: Any) -> str:
    """A stable, readable name for a field annotation (``list[alamp.schema.agents.Parameter]``, ``str``)."""
    if annotation is None:
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        module = annotation.__module__
        return annotation.__qualname__ if module == "builtins" else f"{module}.{annotation.__qualname__}"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is not None and args:
        origin_name = _type_name(origin) if isinstance(origin, type) else repr(origin).replace("typing.", "")
        return f"{origin_name}[{', '.join(_type_name(a) for a in args)}]"
    return repr(annotation).replace("typing.", "")


def structure_fingerprint(program: dspy.Module) -> dict[str, dict[str, Any]]:
    """Describe a program's structure: for each named predictor, its signature's fields and their types.

    Args:
        program: Any DSPy module.

    Returns:
        ``{predictor_name: {"signature": name, "inputs": {field: type}, "outputs": {field: type}}}``, fields in
        signature order (order matters: DSPy restores field labels by position).
    """
    fingerprint: dict[str, dict[str, Any]] = {}
    for name, predictor in program.named_predictors():
        signature = predictor.signature
        fingerprint[name] = {
            "signature": getattr(signature, "__name__", type(signature).__name__),
            "inputs": {field: _type_name(info.annotation) for field, info in signature.input_fields.items()},
            "outputs": {field: _type_name(info.annotation) for field, info in signature.output_fields.items()},
        }
    return fingerprint


def compare_fingerprints(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """List every structural difference between a saved fingerprint and the current program's.

    Args:
        saved: The fingerprint stored with the artifact.
        current: The fingerprint of the program being loaded into.

    Returns:
        One human-readable line per difference; empty when the structures agree. The signature class name is not
        compared (renaming a class is harmless); field names, their order and their types are.
    """
    problems: list[str] = []
    for name in saved:
        if name not in current:
            problems.append(f"predictor {name!r} is in the saved program but not in this program")
    for name in current:
        if name not in saved:
            problems.append(f"predictor {name!r} is in this program but not in the saved program")
    for name in (n for n in saved if n in current):
        for kind in ("inputs", "outputs"):
            old: dict[str, str] = dict(saved[name].get(kind, {}))
            new: dict[str, str] = dict(current[name].get(kind, {}))
            if list(old) != list(new):
                missing = [f for f in old if f not in new]
                added = [f for f in new if f not in old]
                detail = []
                if missing:
                    detail.append(f"saved-only fields {missing}")
                if added:
                    detail.append(f"new fields {added}")
                if not missing and not added:
                    detail.append("same fields in a different order")
                problems.append(
                    f"predictor {name!r} {kind}: saved {list(old)} vs current {list(new)} ({'; '.join(detail)})"
                )
                continue
            for field, old_type in old.items():
                if new[field] != old_type:
                    problems.append(
                        f"predictor {name!r} {kind[:-1]} field {field!r}: saved type {old_type} vs {new[field]}"
                    )
    return problems


def meta_path_for(program_path: str | os.PathLike[str]) -> Path:
    """``artifacts/x.json`` → ``artifacts/x.meta.json``."""
    path = Path(program_path)
    return path.with_name(path.name.removesuffix(".json") + META_SUFFIX)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and ``os.replace``.

    Readers never see a half-written file, and a crash leaves the previous version in place.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def git_commit(root: Path | None = None) -> str | None:
    """The repository's HEAD commit (with ``-dirty`` if the work tree has changes), or None outside git."""
    cwd = root or project_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = ["git", "status", "--porcelain", "--untracked-files=no"]
        dirty = subprocess.run(status, cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def save_program(
    program: dspy.Module,
    *,
    name: str | None = None,
    path: str | os.PathLike[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    program_init: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Save a compiled program and its metadata atomically.

    Args:
        program: The compiled DSPy module.
        name: Artifact name; files go to ``artifacts/<name>.json`` and ``artifacts/<name>.meta.json``.
        path: Explicit program path (``*.json``) instead of ``name``.
        metadata: Extra metadata (optimizer, scores, task ids, LM, usage...); JSON-serialisable.
        program_init: JSON keyword arguments that rebuild the program class on load; a mapping with a
            ``"__class__": "module:Name"`` entry is built as ``Name(**rest)`` (e.g. a settings dataclass).

    Returns:
        ``(program_path, meta_path)``.

    Raises:
        ValueError: If neither or both of ``name`` and ``path`` are given, or the path does not end in ``.json``.
    """
    if (name is None) == (path is None):
        raise ValueError("save_program needs exactly one of name= (saved under artifacts/) or path= (a .json file)")
    program_path = Path(path) if path is not None else artifacts_dir() / f"{name}.json"
    if program_path.suffix != ".json":
        raise ValueError(f"program path {program_path} must end in .json (DSPy's JSON state format)")

    # DSPy writes non-atomically, so let it write a temporary file and move ours into place.
    program_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{program_path.stem}.", suffix=".json", dir=program_path.parent)
    os.close(fd)
    try:
        program.save(tmp)
        state_text = Path(tmp).read_text(encoding="utf-8")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)

    # Caller metadata first; the keys load_program relies on are written last so nothing overrides them.
    meta: dict[str, Any] = dict(metadata or {})
    meta |= {
        "format_version": FORMAT_VERSION,
        "program_class": _class_path(program),
        "program_init": dict(program_init or {}),
        "alamp_version": _alamp_version(),
        "dspy_version": getattr(dspy, "__version__", "unknown"),
        "git_commit": git_commit(),
        "structure": structure_fingerprint(program),
        "demos_per_predictor": {name: len(p.demos) for name, p in program.named_predictors()},
    }
    meta_path = meta_path_for(program_path)
    # Program first, metadata last: a metadata file always describes a complete program file.
    atomic_write_text(program_path, state_text)
    atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=False, default=str) + "\n")
    return program_path, meta_path


def _alamp_version() -> str:
    from alamp import __version__

    return __version__


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the metadata next to a program file (``x.json`` → ``x.meta.json``).

    Raises:
        FileNotFoundError: If the metadata file is missing, with the fix.
    """
    meta_path = meta_path_for(path)
    if not meta_path.exists():
        raise FileNotFoundError(
            f"{meta_path} not found: a program file needs its metadata to be loaded safely. Re-save it with "
            "alamp.artifact.save_program, or pass check_structure=False to load_program if you trust it."
        )
    meta = _read_json(meta_path, what="program metadata")
    if not isinstance(meta, dict):
        raise CorruptArtifactError(f"{meta_path} is not a JSON object; re-save the program with save_program")
    return meta


#: Largest program or metadata file read (a compiled program with demos is well under 1 MB).
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024


class CorruptArtifactError(ValueError):
    """A program or metadata file cannot be read (not UTF-8, not JSON, wrong shape, too large)."""


def _read_json(path: Path, *, what: str) -> Any:
    """Read a JSON file, naming it and the fix when it cannot be read."""
    fix = "restore it from version control or recompile it (`python -m alamp.compile`)"
    try:
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:
            raise CorruptArtifactError(f"{path} ({what}) is {size:,} bytes, over {MAX_ARTIFACT_BYTES:,}: {fix}")
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptArtifactError(f"{path} ({what}) is not valid UTF-8 JSON ({exc}): {fix}") from None
    except IsADirectoryError:
        raise CorruptArtifactError(f"{path} ({what}) is a directory, not a file") from None
    except PermissionError as exc:
        raise CorruptArtifactError(f"{path} ({what}) cannot be read ({exc}): check its permissions") from None


#: The only classes metadata may name (``program_class`` and ``__class__`` in ``program_init``), exactly as written.
#: Loading is data, not code: a name is looked up in this table, never imported or traversed (``alamp.x:subprocess.run``
#: would otherwise reach any callable through attributes). Add a class here when a new program or settings class
#: should be loadable from a file.
ALLOWED_CLASSES: tuple[str, ...] = (
    "alamp.program:ALAMP",
    "alamp.program:SingleModelBaseline",
    "alamp.program:ProgramSettings",
    "alamp.sandbox:SandboxLimits",
)
#: Kept for callers of the old name: the allow-list's modules.
TRUSTED_MODULE_PREFIXES: tuple[str, ...] = tuple(sorted({name.partition(":")[0] for name in ALLOWED_CLASSES}))


def _import_class(spec: str) -> type:
    if spec not in ALLOWED_CLASSES:
        raise ProgramStructureError(
            f"metadata names class {spec!r}, which is not one alamp loads from a file (allowed: "
            f"{', '.join(ALLOWED_CLASSES)}); the metadata file is damaged or was tampered with. Re-save the program "
            "with alamp.artifact.save_program, or pass the program to load into with load_program(path, program=...)"
        )
    module_name, _, name = spec.partition(":")
    obj = getattr(importlib.import_module(module_name), name)
    if not isinstance(obj, type):
        raise ProgramStructureError(f"{spec} is not a class")
    return obj


def _rebuild(value: Any) -> Any:
    """``{"__class__": "module:Name", **kwargs}`` in ``program_init`` → ``Name(**kwargs)`` (settings dataclasses)."""
    if isinstance(value, Mapping) and "__class__" in value:
        kwargs = {str(k): _rebuild(v) for k, v in value.items() if k != "__class__"}
        return _import_class(str(value["__class__"]))(**kwargs)
    return value


def _check_state_against_program(state: Mapping[str, Any], program: dspy.Module) -> list[str]:
    """Structural checks that need only DSPy's state file (no metadata): predictor names and field counts."""
    problems: list[str] = []
    names = {name for name, _ in program.named_predictors()}
    saved = {k for k in state if k != "metadata"}
    for name in sorted(saved - names):
        problems.append(f"predictor {name!r} is in the saved state but not in this program")
    for name in sorted(names - saved):
        problems.append(f"predictor {name!r} is in this program but not in the saved state")
    for name, predictor in program.named_predictors():
        fields = state.get(name, {}).get("signature", {}).get("fields")
        if fields is not None and len(fields) != len(predictor.signature.fields):
            problems.append(
                f"predictor {name!r}: saved state has {len(fields)} fields, this program's signature has "
                f"{len(predictor.signature.fields)} ({list(predictor.signature.fields)})"
            )
    return problems


def load_program(
    path: str | os.PathLike[str],
    *,
    program: dspy.Module | None = None,
    check_structure: bool = True,
) -> dspy.Module:
    """Load a compiled program, refusing one saved for a different structure.

    Args:
        path: The program file (``artifacts/<name>.json``); its ``.meta.json`` must sit next to it.
        program: The (uncompiled) module to load into; default: a fresh instance of the class recorded in the
            metadata, built with the recorded ``program_init`` keyword arguments.
        check_structure: Compare the saved structure fingerprint with the program's (default). Turn off only for
            files you trust that lack metadata.

    Returns:
        The program with the saved demos and instructions.

    Raises:
        FileNotFoundError: If the program file (or, with checks on, its metadata) is missing.
        ProgramStructureError: If predictors, field names, field order or field types differ.
    """
    program_path = Path(path)
    if not program_path.exists():
        raise FileNotFoundError(f"compiled program {program_path} not found; run `python -m alamp.compile` first")
    meta: dict[str, Any] = read_metadata(program_path) if check_structure else {}
    if program is None:
        if not meta:
            meta = read_metadata(program_path)
        meta_path = meta_path_for(program_path)
        init_data = meta.get("program_init") or {}
        if not isinstance(init_data, Mapping) or not isinstance(meta.get("program_class"), str):
            raise CorruptArtifactError(
                f"{meta_path} lacks a program_class name or a program_init object; re-save the program"
            )
        try:
            init = {k: _rebuild(v) for k, v in init_data.items()}
            program = _import_class(meta["program_class"])(**init)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ProgramStructureError):
                raise
            raise CorruptArtifactError(
                f"{meta_path}: the recorded program settings do not build a program ({exc}); re-save the program, "
                "or pass the program to load into with load_program(path, program=...)"
            ) from None

    state = _read_json(program_path, what="compiled program")
    if not isinstance(state, dict):
        raise CorruptArtifactError(f"{program_path} is not a JSON object of DSPy state; recompile it")
    if check_structure:
        problems = compare_fingerprints(meta.get("structure", {}), structure_fingerprint(program))
        problems += [p for p in _check_state_against_program(state, program) if p not in problems]
        if problems:
            raise ProgramStructureError(
                f"{program_path} was saved for a different program structure than {type(program).__name__}:\n  - "
                + "\n  - ".join(problems)
                + "\nRecompile it (`python -m alamp.compile`) against the current signatures, or load it into the "
                "program version it was saved from."
            )
    try:
        program.load(str(program_path))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptArtifactError(
            f"{program_path}: DSPy could not load this state ({type(exc).__name__}: {exc}); recompile it "
            "(`python -m alamp.compile`) or restore it from version control"
        ) from None
    return program
