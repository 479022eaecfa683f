"""The Q-network and the greedy policy built on it, with save/load that refuses a mismatched environment."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from alamp.rl.spaces import ObservationEncoder, check_discrete_actions, space_from_json, space_to_json

__all__ = ["QPolicy", "build_q_network", "parameter_count", "MAX_POLICY_PARAMETERS", "POLICY_WEIGHTS", "POLICY_JSON"]

POLICY_WEIGHTS = "model.pt"
POLICY_JSON = "policy.json"


def build_q_network(*, input_dim: int, n_actions: int, hidden_width: int, hidden_depth: int) -> nn.Sequential:
    """An MLP ``input_dim -> hidden_width x hidden_depth (ReLU) -> n_actions``."""
    layers: list[nn.Module] = []
    width_in = input_dim
    for _ in range(hidden_depth):
        layers += [nn.Linear(width_in, hidden_width), nn.ReLU()]
        width_in = hidden_width
    layers.append(nn.Linear(width_in, n_actions))
    return nn.Sequential(*layers)


class QPolicy:
    """Greedy policy of a Q-network: ``act(obs) -> int`` and ``act_batch(obs[N, ...]) -> int[N]``.

    Args:
        network: The Q-network (maps encoded observations to one value per action).
        observation_space: The environment's (single) observation space.
        action_space: The environment's (single) Discrete action space.
        config: The training config as a dict (saved alongside the weights; ``hidden_width``, ``hidden_depth`` and
            ``normalize_observations`` are needed to rebuild the policy).
    """

    def __init__(
        self,
        *,
        network: nn.Module,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: dict[str, Any],
    ) -> None:
        self.network = network
        self.observation_space = observation_space
        self.action_space = action_space
        self.n_actions = check_discrete_actions(action_space)
        self.config = dict(config)
        self.encoder = ObservationEncoder(observation_space, normalize=bool(config.get("normalize_observations", True)))

    @classmethod
    def create(cls, *, observation_space: spaces.Space, action_space: spaces.Space, config: dict[str, Any]) -> QPolicy:
        """A freshly initialised policy for these spaces (torch's current RNG state sets the initial weights)."""
        encoder = ObservationEncoder(observation_space, normalize=bool(config.get("normalize_observations", True)))
        network = build_q_network(
            input_dim=encoder.dim,
            n_actions=check_discrete_actions(action_space),
            hidden_width=int(config["hidden_width"]),
            hidden_depth=int(config["hidden_depth"]),
        )
        return cls(network=network, observation_space=observation_space, action_space=action_space, config=config)

    def q_values(self, observations: Any) -> np.ndarray:
        """Q-values ``[N, n_actions]`` for a batch of raw observations."""
        with torch.inference_mode():
            return self.network(torch.from_numpy(self.encoder(observations))).numpy()

    def act_batch(self, observations: Any) -> np.ndarray:
        """Greedy actions (int64 ``[N]``) for a batch of raw observations (leading axis = batch)."""
        with torch.inference_mode():
            return self.network(torch.from_numpy(self.encoder(observations))).argmax(dim=1).numpy()

    def act(self, observation: Any) -> int:
        """The greedy action for one raw observation."""
        return int(self.act_batch(np.asarray(observation)[None])[0])

    def save(self, directory: str | Path) -> Path:
        """Write ``model.pt`` (the state dict) and ``policy.json`` (config and spaces) into ``directory``.

        Returns:
            The directory.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.network.state_dict(), directory / POLICY_WEIGHTS)
        meta = {
            "format": "alamp.rl.QPolicy/1",
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
            "config": self.config,
        }
        (directory / POLICY_JSON).write_text(json.dumps(meta, indent=2) + "\n")
        return directory

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        observation_space: spaces.Space | None = None,
        action_space: spaces.Space | None = None,
        config: dict[str, Any] | None = None,
    ) -> QPolicy:
        """Load a policy saved by :meth:`save`, checking it against the environment it will act in.

        The folder may come from a sandboxed child (the llm route trains there), so nothing in it decides how much
        this process allocates: the network's shape comes from ``config`` (this process's own training config)
        when given, the parameter count is bounded before anything is built, and the weights are read with
        ``torch.load(weights_only=True)``.

        Args:
            directory: Folder holding ``model.pt`` and ``policy.json``.
            observation_space: The environment's observation space; ``None`` trusts the saved one.
            action_space: The environment's action space; ``None`` trusts the saved one.
            config: The training config the policy was trained with (``hidden_width``, ``hidden_depth``,
                ``normalize_observations``); a saved config that disagrees is refused. ``None`` trusts the saved
                one (within :data:`MAX_POLICY_PARAMETERS`).

        Raises:
            FileNotFoundError: The folder lacks one of the two files.
            ValueError: A given space or config differs from the saved one (both are named), the files are
                unreadable or too large, or the network would exceed :data:`MAX_POLICY_PARAMETERS`.
        """
        directory = Path(directory)
        for name in (POLICY_WEIGHTS, POLICY_JSON):
            if not (directory / name).is_file():
                raise FileNotFoundError(
                    f"{directory / name} not found: is {directory} a folder written by QPolicy.save?"
                )
        meta_path = directory / POLICY_JSON
        if meta_path.stat().st_size > MAX_POLICY_JSON_BYTES:
            raise ValueError(f"{meta_path} is {meta_path.stat().st_size:,} bytes, not a policy description; retrain")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            saved_config = dict(meta["config"])
            obs_json, act_json = meta["observation_space"], meta["action_space"]
            input_dim = _space_size(obs_json if observation_space is None else space_to_json(observation_space))
            n_actions = _space_size(act_json if action_space is None else space_to_json(action_space))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{meta_path} is not a readable policy description ({exc}); retrain the policy") from None
        if config is not None:
            shape_keys = ("hidden_width", "hidden_depth", "normalize_observations")
            differ = [f"{k}: saved {saved_config.get(k)!r}, config {config.get(k)!r}" for k in shape_keys
                      if k in config and saved_config.get(k) != config.get(k)]
            if differ:
                raise ValueError(
                    f"policy in {directory} does not match the training config ({'; '.join(differ)}); it was not "
                    "trained with this config: retrain it"
                )
            saved_config.update({k: config[k] for k in shape_keys if k in config})
        try:
            width, depth = int(saved_config["hidden_width"]), int(saved_config["hidden_depth"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{meta_path} lacks a valid hidden_width / hidden_depth; retrain the policy") from None
        count = parameter_count(input_dim=input_dim, n_actions=n_actions, hidden_width=width, hidden_depth=depth)
        if min(input_dim, n_actions, width) < 1 or depth < 0 or count > MAX_POLICY_PARAMETERS:
            raise ValueError(
                f"policy in {directory} describes a network of {count:,} parameters (input {input_dim}, "
                f"{depth} x {width} hidden, {n_actions} actions); at most {MAX_POLICY_PARAMETERS:,} are loaded"
            )
        weights = directory / POLICY_WEIGHTS
        if weights.stat().st_size > 8 * count + (1 << 20):
            raise ValueError(f"{weights} is {weights.stat().st_size:,} bytes, far more than {count:,} parameters")
        saved_obs = space_from_json(obs_json)
        saved_act = space_from_json(act_json)
        for label, given, saved in (("observation", observation_space, saved_obs), ("action", action_space, saved_act)):
            if given is not None and given != saved:
                raise ValueError(
                    f"policy in {directory} was trained on {label} space {saved} but the environment has {label} "
                    f"space {given}; train a policy for this environment instead"
                )
        policy = cls.create(observation_space=saved_obs, action_space=saved_act, config=saved_config)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            policy.network.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError, EOFError, OSError) as exc:
            raise ValueError(f"{weights} does not hold this policy's weights ({exc}); retrain the policy") from None
        policy.network.eval()
        return policy


#: Most parameters a loaded policy may have (the default DQN has a few thousand; a hostile file must not make this
#: process allocate gigabytes).
MAX_POLICY_PARAMETERS = 20_000_000
MAX_POLICY_JSON_BYTES = 16 * 1024 * 1024


def parameter_count(*, input_dim: int, n_actions: int, hidden_width: int, hidden_depth: int) -> int:
    """Parameters of :func:`build_q_network` with these sizes (computed, nothing allocated)."""
    if hidden_depth <= 0:
        return input_dim * n_actions + n_actions
    return (input_dim + 1) * hidden_width + (hidden_depth - 1) * (hidden_width + 1) * hidden_width + (
        hidden_width + 1
    ) * n_actions


def _space_size(data: Any) -> int:
    """Encoded size of a saved space (Discrete: n, one-hot; Box: number of entries), read without building it."""
    if not isinstance(data, dict):
        raise TypeError("a space must be a JSON object")
    if data.get("type") == "Discrete":
        return int(data["n"])
    if data.get("type") == "Box":
        shape = [int(d) for d in data["shape"]]
        return math.prod(shape) if shape else 1
    raise ValueError(f"unknown space type {data.get('type')!r}")
