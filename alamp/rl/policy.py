"""The Q-network and the greedy policy built on it, with save/load that refuses a mismatched environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from alamp.rl.spaces import ObservationEncoder, check_discrete_actions, space_from_json, space_to_json

__all__ = ["QPolicy", "build_q_network", "POLICY_WEIGHTS", "POLICY_JSON"]

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
    ) -> QPolicy:
        """Load a policy saved by :meth:`save`, checking it against the environment it will act in.

        Args:
            directory: Folder holding ``model.pt`` and ``policy.json``.
            observation_space: The environment's observation space; ``None`` trusts the saved one.
            action_space: The environment's action space; ``None`` trusts the saved one.

        Raises:
            FileNotFoundError: The folder lacks one of the two files.
            ValueError: A given space differs from the one the policy was trained on (both are named).
        """
        directory = Path(directory)
        for name in (POLICY_WEIGHTS, POLICY_JSON):
            if not (directory / name).is_file():
                raise FileNotFoundError(
                    f"{directory / name} not found: is {directory} a folder written by QPolicy.save?"
                )
        meta = json.loads((directory / POLICY_JSON).read_text())
        saved_obs = space_from_json(meta["observation_space"])
        saved_act = space_from_json(meta["action_space"])
        for label, given, saved in (("observation", observation_space, saved_obs), ("action", action_space, saved_act)):
            if given is not None and given != saved:
                raise ValueError(
                    f"policy in {directory} was trained on {label} space {saved} but the environment has {label} "
                    f"space {given}; train a policy for this environment instead"
                )
        policy = cls.create(observation_space=saved_obs, action_space=saved_act, config=meta["config"])
        state = torch.load(directory / POLICY_WEIGHTS, map_location="cpu", weights_only=True)
        policy.network.load_state_dict(state)
        policy.network.eval()
        return policy
