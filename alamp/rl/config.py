"""DQN hyperparameters: one dataclass, with its defaults mirrored in ``conf/trainer/default.yaml``.

The YAML files under ``conf/trainer/`` are the source of truth for runs (Hydra composes them); the dataclass
defaults exist so that ``DQNConfig()`` works in code and tests. ``tests/test_rl_config.py`` checks that the two agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DQNConfig", "load_trainer_config"]


@dataclass(frozen=True)
class DQNConfig:
    """Every hyperparameter of :func:`alamp.rl.train_dqn`.

    Budgets and schedules are counted in environment steps summed over the parallel environments (``num_envs``),
    so results do not depend on how many environments run side by side, except through the order of events.

    Attributes:
        seed: Seeds torch, the replay sampling, exploration and the environments. Same seed, same result on CPU.
        total_timesteps: Budget in environment steps (summed over ``num_envs``).
        max_episodes: Optional budget in finished training episodes; training stops at whichever budget ends first.
            The exploration schedule is always measured against ``total_timesteps``.
        num_envs: Environments stepped side by side (one batched forward pass chooses all their actions).
        learning_rate: Adam step size.
        gamma: Discount factor.
        batch_size: Transitions per gradient step.
        buffer_size: Replay capacity in transitions.
        learning_starts: Environment steps of pure collection before the first gradient step.
        train_frequency: Environment steps between training rounds.
        gradient_steps: Gradient steps per training round.
        target_update_interval: Environment steps between target-network updates.
        tau: Target update weight: 1.0 copies the online network; below 1 is a Polyak average.
        exploration_initial_eps: Epsilon at the start of training.
        exploration_final_eps: Epsilon after the decay.
        exploration_fraction: Share of ``total_timesteps`` over which epsilon decays linearly.
        exploration_repeat: A random action is held for a uniformly drawn 1..``exploration_repeat`` steps
            (temporally extended epsilon-greedy); 1 is plain epsilon-greedy.
        hidden_width: Units per hidden layer of the Q-network.
        hidden_depth: Number of hidden layers.
        double_dqn: Choose the bootstrap action with the online network, value it with the target network.
        huber_loss: Huber (smooth L1) loss instead of squared error.
        max_grad_norm: Clip the gradient norm to this value; ``None`` turns clipping off.
        normalize_observations: Rescale observation dimensions with finite, moderate bounds to [-1, 1].
        eval_every: Environment steps between greedy evaluations; 0 evaluates only at the end.
        eval_episodes: Episodes per evaluation (run side by side on a vectorised environment).
        eval_threshold: Stop once an evaluation mean reaches this; ``None`` takes the environment's
            ``spec.reward_threshold`` when it has one, else training runs the whole budget.
        stop_on_threshold: Whether reaching ``eval_threshold`` ends training early.
        confirm_threshold: An evaluation that reaches the threshold counts only if a second one on fresh episodes
            also does (the best of many noisy evaluations overstates its policy); the two means are averaged.
        keep_best: Return the policy of the best evaluation rather than the last one.
        torch_threads: ``torch.set_num_threads`` during training (1 is fastest for small networks).
    """

    seed: int = 0
    total_timesteps: int = 200_000
    max_episodes: int | None = None
    num_envs: int = 8
    learning_rate: float = 2.5e-3
    gamma: float = 0.99
    batch_size: int = 128
    buffer_size: int = 50_000
    learning_starts: int = 1_000
    train_frequency: int = 64
    gradient_steps: int = 8
    target_update_interval: int = 500
    tau: float = 1.0
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    exploration_fraction: float = 0.2
    exploration_repeat: int = 40
    hidden_width: int = 64
    hidden_depth: int = 2
    double_dqn: bool = True
    huber_loss: bool = True
    max_grad_norm: float | None = 10.0
    normalize_observations: bool = True
    eval_every: int = 2_000
    eval_episodes: int = 100
    eval_threshold: float | None = None
    stop_on_threshold: bool = True
    confirm_threshold: bool = True
    keep_best: bool = True
    torch_threads: int = 1

    def __post_init__(self) -> None:
        positive = ("total_timesteps", "num_envs", "batch_size", "buffer_size", "train_frequency", "gradient_steps",
                    "target_update_interval", "exploration_repeat", "hidden_width", "hidden_depth", "eval_episodes",
                    "torch_threads")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"DQNConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_starts", "eval_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"DQNConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_episodes is not None and self.max_episodes < 1:
            raise ValueError(f"DQNConfig.max_episodes must be >= 1 or None, got {self.max_episodes}")
        for name in ("gamma", "exploration_initial_eps", "exploration_final_eps", "exploration_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"DQNConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"DQNConfig.tau must be in (0, 1], got {self.tau}")
        if self.learning_rate <= 0:
            raise ValueError(f"DQNConfig.learning_rate must be > 0, got {self.learning_rate}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"DQNConfig.max_grad_norm must be > 0 or None, got {self.max_grad_norm}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DQNConfig:
        """Build a config from a mapping (e.g. the ``dqn`` block of ``conf/trainer/*.yaml``); unknown keys are refused.

        Args:
            values: Field names to values; missing fields keep their defaults.

        Raises:
            ValueError: A key is not a DQNConfig field (the message lists the valid ones).
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"unknown DQNConfig field(s) {unknown}; valid fields are {sorted(fields)}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain JSON-serialisable dict."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> DQNConfig:
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)


def load_trainer_config(preset: str = "default", *, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Compose ``conf/trainer/<preset>.yaml`` with Hydra and return it as a plain dict.

    Use this outside a Hydra run (tests, bench, notebooks); inside one, ``cfg.trainer`` is the same thing.

    Args:
        preset: File name under ``conf/trainer/`` without ``.yaml`` (``default``, ``fast``, ``mountain_car``, ...).
        overrides: Hydra overrides relative to the trainer group, e.g. ``["dqn.seed=3", "tuner.n_trials=5"]``.

    Returns:
        The trainer group: ``{"tune": bool, "dqn": {...}, "tuner": {...}}``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from alamp.paths import conf_dir

    trainer_dir = conf_dir() / "trainer"
    if not (trainer_dir / f"{preset}.yaml").is_file():
        known = sorted(p.stem for p in trainer_dir.glob("*.yaml"))
        raise ValueError(f"no trainer preset {preset!r} in {trainer_dir}; known presets: {known}")
    hydra_overrides = [f"+trainer={preset}", *(f"trainer.{o}" for o in overrides)]
    if GlobalHydra.instance().is_initialized():
        cfg = compose(overrides=hydra_overrides)
    else:
        with initialize_config_dir(version_base=None, config_dir=str(conf_dir())):
            cfg = compose(overrides=hydra_overrides)
    return OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[return-value]
