"""alamp.train_cache: an unchanged environment + trainer config is never trained twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alamp.schema import EnvSpec
from alamp.train_cache import TrainingCache


def _spec(gain: float = 1.0) -> EnvSpec:
    return EnvSpec.model_validate(
        {
            "constants": {"gain": gain},
            "state": [{"name": "x", "low": -1, "high": 1}],
            "actions": [{"name": "left", "updates": [{"target": "x", "expr": "x - gain"}]}, {"name": "right"}],
            "reward": "-abs(x)",
        }
    )


class CountingTrainer:
    """Writes a fake policy file and counts how often it ran."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, policy_dir: Path) -> dict:
        self.calls += 1
        (policy_dir / "q.pt").write_bytes(b"weights")
        return {"mean_return": 42.0 + self.calls}


def test_key_depends_on_env_and_trainer_only() -> None:
    trainer = {"total_timesteps": 1000, "seed": 0}
    key = TrainingCache.key(env=_spec(), trainer=trainer)
    assert key == TrainingCache.key(env=_spec().model_dump(mode="json"), trainer=dict(trainer))  # spec or its dump
    assert key != TrainingCache.key(env=_spec(gain=2.0), trainer=trainer)
    assert key != TrainingCache.key(env=_spec(), trainer={**trainer, "total_timesteps": 2000})
    assert key != TrainingCache.key(env=_spec(), trainer=trainer, extra={"seed": 1})
    # Code is hashed modulo trailing whitespace.
    padded = TrainingCache.key(env="x = 1  \ny = 2\n", trainer=trainer)
    assert padded == TrainingCache.key(env="x = 1\ny = 2", trainer=trainer)


def test_hit_skips_training_and_returns_the_stored_policy(tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path / "cache")
    trainer = CountingTrainer()
    key = cache.key(env=_spec(), trainer={"total_timesteps": 1000})

    first = cache.get_or_train(key, trainer)
    assert (first.hit, trainer.calls, first.result) == (False, 1, {"mean_return": 43.0})
    assert (first.policy_dir / "q.pt").read_bytes() == b"weights"

    # A fresh cache object on the same directory (another process) hits without training.
    again = TrainingCache(tmp_path / "cache").get_or_train(key, trainer)
    assert (again.hit, trainer.calls, again.result) == (True, 1, {"mean_return": 43.0})
    assert (again.policy_dir / "q.pt").read_bytes() == b"weights"

    other = cache.get_or_train(cache.key(env=_spec(gain=3.0), trainer={"total_timesteps": 1000}), trainer)
    assert (other.hit, trainer.calls) == (False, 2)
    assert (cache.hits, cache.misses) == (0, 2)


def test_put_keeps_the_first_result_and_disabled_cache_always_trains(tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    key = cache.key(env="code", trainer={})
    cache.put(key, result={"r": 1})
    assert cache.put(key, result={"r": 2}).result == {"r": 1}  # a concurrent second writer does not clobber
    assert json.loads((tmp_path / key[:2] / key / "result.json").read_text()) == {"r": 1}

    off = TrainingCache(tmp_path / "off", enabled=False)
    trainer = CountingTrainer()
    off.get_or_train(key, trainer)
    entry = off.get_or_train(key, trainer)
    assert trainer.calls == 2 and not entry.hit
    assert (entry.policy_dir / "q.pt").exists()
    assert not (tmp_path / "off").exists()


def test_bad_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a hex digest"):
        TrainingCache(tmp_path).get("../../etc")
