"""Saving and loading a policy: same actions after a round trip; a mismatched environment is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gymnasium import spaces

from alamp.rl import DQNConfig, QPolicy

OBS_SPACE = spaces.Box(low=np.array([-1.0, -np.inf], dtype=np.float32), high=np.array([1.0, np.inf], dtype=np.float32))
ACTION_SPACE = spaces.Discrete(3)


def make_policy() -> QPolicy:
    torch.manual_seed(0)
    return QPolicy.create(observation_space=OBS_SPACE, action_space=ACTION_SPACE, config=DQNConfig().to_dict())


def test_round_trip_gives_same_actions(tmp_path) -> None:
    policy = make_policy()
    policy.save(tmp_path)
    loaded = QPolicy.load(tmp_path, observation_space=OBS_SPACE, action_space=ACTION_SPACE)
    observations = np.random.default_rng(0).uniform(-3, 3, size=(256, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act_batch(observations), policy.act_batch(observations))
    np.testing.assert_allclose(loaded.q_values(observations), policy.q_values(observations))
    assert loaded.act(observations[0]) == policy.act(observations[0])
    meta = json.loads((tmp_path / "policy.json").read_text())  # standard JSON: infinite bounds stored as strings
    assert meta["observation_space"]["high"] == [1.0, "inf"]
    assert meta["config"]["hidden_width"] == DQNConfig().hidden_width


def test_mismatched_observation_space_is_refused(tmp_path) -> None:
    make_policy().save(tmp_path)
    other = spaces.Box(low=-1.0, high=1.0, shape=(3,), dtype=np.float32)
    with pytest.raises(ValueError, match="observation space") as error:
        QPolicy.load(tmp_path, observation_space=other, action_space=ACTION_SPACE)
    assert str(other) in str(error.value) and str(OBS_SPACE) in str(error.value)


def test_mismatched_action_space_is_refused(tmp_path) -> None:
    make_policy().save(tmp_path)
    with pytest.raises(ValueError, match="action space Discrete\\(3\\).*Discrete\\(2\\)"):
        QPolicy.load(tmp_path, observation_space=OBS_SPACE, action_space=spaces.Discrete(2))


def test_discrete_observations_are_one_hot(tmp_path) -> None:
    torch.manual_seed(0)
    policy = QPolicy.create(observation_space=spaces.Discrete(5), action_space=ACTION_SPACE,
                            config=DQNConfig().to_dict())
    np.testing.assert_array_equal(policy.encoder(np.array([0, 4])), np.eye(5, dtype=np.float32)[[0, 4]])
    policy.save(tmp_path)
    loaded = QPolicy.load(tmp_path, observation_space=spaces.Discrete(5))
    assert [loaded.act(s) for s in range(5)] == [policy.act(s) for s in range(5)]
    with pytest.raises(ValueError, match="Discrete\\(6\\)"):
        QPolicy.load(tmp_path, observation_space=spaces.Discrete(6))


def test_missing_files_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="model.pt"):
        QPolicy.load(tmp_path)
