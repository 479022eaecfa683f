"""DQN, readable top to bottom (in the spirit of CleanRL), tuned for small problems on one CPU thread.

Where the time goes at these sizes: gradient steps (a forward, a backward and an Adam step on a tiny MLP are
dominated by per-call overhead, not arithmetic), then the per-step Python of acting. So the loop:

* steps ``num_envs`` environments at once, choosing all actions with one batched forward pass;
* trains in rounds (``gradient_steps`` every ``train_frequency`` environment steps) and samples a whole round's
  minibatch indices in one call;
* evaluates on a vector environment with one episode per sub-environment, also in batched forward passes.

Transitions store ``terminated`` (a real end) apart from truncation (a time limit), and the true final observation,
so the target bootstraps through time limits.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.vector import AutoresetMode

from alamp.rl.buffer import ReplayBuffer
from alamp.rl.config import DQNConfig
from alamp.rl.evaluation import BatchedEvaluator
from alamp.rl.policy import QPolicy
from alamp.rl.vec import EnvSource, VecEnvFactory, autoreset_mode, make_vector_env, reward_threshold

__all__ = ["TrainResult", "train_dqn", "EvalCallback"]

logger = logging.getLogger(__name__)

# callback(step, eval_mean) -> False to stop; may raise (e.g. optuna.TrialPruned), which propagates.
EvalCallback = Callable[[int, float], bool | None]

# Evaluation seeds live far from training seeds so the two never share episodes.
_EVAL_SEED_OFFSET = 1_000_003
_CONFIRM_SEED_OFFSET = 7_000_019


@dataclass
class TrainResult:
    """What :func:`train_dqn` hands back.

    Attributes:
        policy: The greedy policy (the best-evaluated one when ``keep_best``).
        curve: One dict per evaluation: ``step, episode, eval_mean, eval_std, wall_s, cpu_s, eval_cpu_s``
            (``cpu_s`` is process CPU time since the start, evaluations included; ``eval_cpu_s`` the part spent
            evaluating).
        solved: Whether an evaluation mean reached the threshold.
        steps: Environment steps taken.
        episodes: Training episodes finished.
        cpu_seconds: Process CPU time of the whole call.
        wall_seconds: Wall-clock time of the whole call.
        best_eval_mean: Best evaluation mean (``-inf`` if none ran).
        threshold: The threshold used (``None``: none).
        stopped_by: ``"threshold"``, ``"budget"`` or ``"callback"``.
        config: The config trained with.
    """

    policy: QPolicy
    curve: list[dict[str, float]]
    solved: bool
    steps: int
    episodes: int
    cpu_seconds: float
    wall_seconds: float
    best_eval_mean: float
    threshold: float | None
    stopped_by: str
    config: DQNConfig
    extra: dict[str, Any] = field(default_factory=dict)


def _epsilon(config: DQNConfig, step: int) -> float:
    """Linear decay from the initial to the final epsilon over ``exploration_fraction`` of the budget."""
    decay_steps = config.exploration_fraction * config.total_timesteps
    if decay_steps <= 0:
        return config.exploration_final_eps
    progress = min(1.0, step / decay_steps)
    return config.exploration_initial_eps + progress * (config.exploration_final_eps - config.exploration_initial_eps)


def _adam(
    params: list[torch.nn.Parameter],
    *,
    learning_rate: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Callable[[], None]:
    """Adam (Kingma & Ba), the same update as ``torch.optim.Adam`` with default options, as a closure.

    Hand-rolled because constructing any ``torch.optim`` optimizer imports ``torch._dynamo`` (about 1 CPU-second,
    paid by every fresh training process, e.g. each sandboxed candidate), and its per-step wrappers cost ~15% of
    a gradient step on these tiny networks. Uses the same fused ``torch._foreach_*`` kernels.
    """
    beta1, beta2 = betas
    first_moments = [torch.zeros_like(p) for p in params]
    second_moments = [torch.zeros_like(p) for p in params]
    step_count = 0

    @torch.no_grad()
    def step() -> None:
        nonlocal step_count
        step_count += 1
        grads = [p.grad for p in params]
        torch._foreach_lerp_(first_moments, grads, 1.0 - beta1)
        torch._foreach_mul_(second_moments, beta2)
        torch._foreach_addcmul_(second_moments, grads, grads, 1.0 - beta2)
        bias_correction1 = 1.0 - beta1**step_count
        bias_correction2 = 1.0 - beta2**step_count
        denominators = torch._foreach_sqrt(second_moments)
        torch._foreach_div_(denominators, bias_correction2**0.5)
        torch._foreach_add_(denominators, eps)
        torch._foreach_addcdiv_(params, first_moments, denominators, -learning_rate / bias_correction1)

    return step


def train_dqn(
    *,
    config: DQNConfig,
    make_env: EnvSource,
    make_vec_env: VecEnvFactory | None = None,
    eval_make_env: EnvSource | None = None,
    callback: EvalCallback | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a DQN policy.

    Args:
        config: All hyperparameters and budgets.
        make_env: A gymnasium id or a zero-argument callable returning a fresh environment.
        make_vec_env: Optional ``num_envs -> VectorEnv`` factory, used instead of wrapping ``make_env`` in a
            ``SyncVectorEnv`` (e.g. a numpy-batched compiled spec). Same-step and next-step autoreset both work.
        eval_make_env: Environment to evaluate on; defaults to ``make_env`` (through ``make_vec_env`` when given).
        callback: Called after each evaluation with ``(step, eval_mean)``; returning ``False`` stops training,
            exceptions (e.g. ``optuna.TrialPruned``) propagate.
        progress: Log one line per evaluation at INFO level (and print it).

    Returns:
        The policy, the learning curve and the cost.
    """
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    envs = make_vector_env(make_env=make_env, num_envs=config.num_envs, make_vec_env=make_vec_env)
    eval_source = eval_make_env if eval_make_env is not None else make_env
    evaluator = BatchedEvaluator(
        make_env=eval_source,
        episodes=config.eval_episodes,
        make_vec_env=make_vec_env if eval_make_env is None else None,
    )
    try:
        threshold = config.eval_threshold
        if threshold is None:
            threshold = reward_threshold(eval_source, envs)
        return _train(
            config=config,
            envs=envs,
            evaluator=evaluator,
            threshold=threshold,
            callback=callback,
            progress=progress,
            clock_start=(wall_start, cpu_start),
        )
    finally:
        envs.close()
        evaluator.close()
        torch.set_num_threads(previous_threads)


def _train(
    *,
    config: DQNConfig,
    envs: Any,
    evaluator: BatchedEvaluator,
    threshold: float | None,
    callback: EvalCallback | None,
    progress: bool,
    clock_start: tuple[float, float],
) -> TrainResult:
    wall_start, cpu_start = clock_start
    num_envs = envs.num_envs
    next_step_reset = autoreset_mode(envs) == AutoresetMode.NEXT_STEP

    # Seeding: torch (initial weights), one numpy generator (exploration and replay sampling), the environments.
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    policy = QPolicy.create(
        observation_space=envs.single_observation_space,
        action_space=envs.single_action_space,
        config=config.to_dict(),
    )
    q_network = policy.network
    target_network = copy.deepcopy(q_network)
    target_network.requires_grad_(False)
    adam_step = _adam(list(q_network.parameters()), learning_rate=config.learning_rate)
    encode = policy.encoder
    n_actions = policy.n_actions
    buffer = ReplayBuffer(capacity=config.buffer_size, obs_dim=encode.dim)
    loss_fn = F.smooth_l1_loss if config.huber_loss else F.mse_loss

    def gradient_step(index: np.ndarray) -> None:
        observations = torch.from_numpy(buffer.observations[index])
        next_observations = torch.from_numpy(buffer.next_observations[index])
        actions = torch.from_numpy(buffer.actions[index]).unsqueeze(1)
        rewards = torch.from_numpy(buffer.rewards[index])
        not_terminated = 1.0 - torch.from_numpy(buffer.terminated[index])
        with torch.no_grad():
            next_q_target = target_network(next_observations)
            if config.double_dqn:
                next_actions = q_network(next_observations).argmax(dim=1, keepdim=True)
                next_value = next_q_target.gather(1, next_actions).squeeze(1)
            else:
                next_value = next_q_target.max(dim=1).values
            td_target = rewards + config.gamma * not_terminated * next_value
        q_taken = q_network(observations).gather(1, actions).squeeze(1)
        loss = loss_fn(q_taken, td_target)
        q_network.zero_grad(set_to_none=True)
        loss.backward()
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(q_network.parameters(), config.max_grad_norm)
        adam_step()

    def update_target() -> None:
        if config.tau >= 1.0:
            target_network.load_state_dict(q_network.state_dict())
            return
        with torch.no_grad():
            for target_param, param in zip(target_network.parameters(), q_network.parameters(), strict=True):
                target_param.lerp_(param, config.tau)

    # Bookkeeping.
    curve: list[dict[str, float]] = []
    best_mean, best_state = -float("inf"), None
    eval_cpu = 0.0
    episodes_done = 0
    episode_returns = np.zeros(num_envs, dtype=np.float64)
    recent_returns: list[float] = []
    step = 0
    steps_since_train = 0
    steps_since_target = 0
    next_eval = config.eval_every if config.eval_every > 0 else config.total_timesteps
    stopped_by = "budget"
    solved = False

    def evaluate() -> bool:
        """Evaluate, record, call back; True means stop."""
        nonlocal best_mean, best_state, eval_cpu, solved, stopped_by
        cpu_before = time.process_time()
        result = evaluator(policy, seed=config.seed + _EVAL_SEED_OFFSET + len(curve) * config.eval_episodes)
        eval_cpu += time.process_time() - cpu_before
        row = {
            "step": step,
            "episode": episodes_done,
            "eval_mean": result.mean,
            "eval_std": result.std,
            "train_return_mean": float(np.mean(recent_returns[-20:])) if recent_returns else float("nan"),
            "epsilon": _epsilon(config, step),
            "wall_s": time.perf_counter() - wall_start,
            "cpu_s": time.process_time() - cpu_start,
            "eval_cpu_s": eval_cpu,
        }
        curve.append(row)
        if progress:
            message = (
                f"step {step:>8d}  episodes {episodes_done:>6d}  eval {result.mean:9.2f} ± {result.std:7.2f}  "
                f"train {row['train_return_mean']:8.2f}  eps {row['epsilon']:.3f}  cpu {row['cpu_s']:7.2f}s"
            )
            logger.info(message)
            print(message, flush=True)
        score, passed = result.mean, threshold is not None and result.mean >= threshold
        if passed and config.confirm_threshold:
            # The best of many noisy evaluations overstates its policy (a winner's curse: wireless scored -699, then
            # -707 on fresh episodes against a threshold of -700), so a pass counts only when fresh episodes agree.
            before = time.process_time()
            confirm = evaluator(policy, seed=config.seed + _CONFIRM_SEED_OFFSET + len(curve) * config.eval_episodes)
            eval_cpu += time.process_time() - before
            row["confirm_mean"] = confirm.mean
            score, passed = (result.mean + confirm.mean) / 2, confirm.mean >= threshold
        if score > best_mean or passed:  # a confirmed pass is the network returned, not an earlier lucky one
            best_mean = score
            if config.keep_best:
                best_state = copy.deepcopy(q_network.state_dict())
        if passed:
            solved = True
            if config.stop_on_threshold:
                stopped_by = "threshold"
                return True
        if callback is not None and callback(step, result.mean) is False:
            stopped_by = "callback"
            return True
        return False

    observations, _ = envs.reset(seed=config.seed)
    encoded = encode(observations)
    # Next-step autoreset: the step after an episode end only resets that sub-environment; it is no transition.
    resetting = np.zeros(num_envs, dtype=bool)
    repeat_action = np.zeros(num_envs, dtype=np.int64)
    repeat_left = np.zeros(num_envs, dtype=np.int64)
    stop = False

    while step < config.total_timesteps and not stop:
        # 1. Act: epsilon-greedy, all environments in one forward pass. A random action is held for a random
        #    1..exploration_repeat steps ("temporally extended" epsilon-greedy, Dabney et al. 2020): long random
        #    pushes reach far states (the top of MountainCar's hill) that single random steps never reach.
        epsilon = _epsilon(config, step)
        repeating = repeat_left > 0
        explore = repeating | (rng.random(num_envs) < epsilon)
        starting = explore & ~repeating
        repeat_action[starting] = rng.integers(0, n_actions, size=int(starting.sum()))
        if config.exploration_repeat > 1:
            repeat_left[starting] = rng.integers(1, config.exploration_repeat + 1, size=int(starting.sum()))
        repeat_left[explore] -= 1
        actions = repeat_action
        if not explore.all():
            with torch.inference_mode():
                greedy = q_network(torch.from_numpy(encoded)).argmax(dim=1).numpy()
            actions = np.where(explore, repeat_action, greedy)
        next_observations, rewards, terminated, truncated, infos = envs.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        done = terminated | np.asarray(truncated, dtype=bool)
        next_encoded = encode(next_observations)

        # 2. Store transitions, with the true final observation of episodes that just ended.
        real_next = next_encoded
        if not next_step_reset and done.any():
            real_next = next_encoded.copy()
            final_observations = infos["final_obs"]
            for i in np.flatnonzero(done):
                real_next[i] = encode(np.asarray(final_observations[i])[None])[0]
        valid = ~resetting
        if valid.all():
            buffer.add(encoded, actions, rewards, real_next, terminated)
        else:
            buffer.add(encoded[valid], actions[valid], rewards[valid], real_next[valid], terminated[valid])
        episode_returns += np.where(valid, rewards, 0.0)
        finished = done & valid
        if finished.any():
            recent_returns.extend(episode_returns[finished].tolist())
            repeat_left[done] = 0  # a new episode starts with a fresh exploration decision
            episodes_done += int(finished.sum())
            episode_returns[finished] = 0.0
        if next_step_reset:
            resetting = finished
        encoded = next_encoded
        step += num_envs

        # 3. Learn: rounds of gradient steps, the round's minibatch indices drawn at once.
        if step >= config.learning_starts and buffer.size >= config.batch_size:
            steps_since_train += num_envs
            while steps_since_train >= config.train_frequency:
                steps_since_train -= config.train_frequency
                indices = buffer.sample_indices(rng, config.gradient_steps * config.batch_size)
                for index in indices.reshape(config.gradient_steps, config.batch_size):
                    gradient_step(index)
            steps_since_target += num_envs
            if steps_since_target >= config.target_update_interval:
                steps_since_target = 0
                update_target()

        # 4. Evaluate (and maybe stop).
        if config.max_episodes is not None and episodes_done >= config.max_episodes:
            stop = True
        if step >= next_eval or stop or step >= config.total_timesteps:
            next_eval += config.eval_every if config.eval_every > 0 else config.total_timesteps
            stop = evaluate() or stop

    if config.keep_best and best_state is not None:
        q_network.load_state_dict(best_state)
    q_network.eval()
    return TrainResult(
        policy=policy,
        curve=curve,
        solved=solved,
        steps=step,
        episodes=episodes_done,
        cpu_seconds=time.process_time() - cpu_start,
        wall_seconds=time.perf_counter() - wall_start,
        best_eval_mean=best_mean,
        threshold=threshold,
        stopped_by=stopped_by,
        config=config,
    )
