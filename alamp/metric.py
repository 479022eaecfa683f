"""The verdict of one run against its task, and the DSPy metrics built on it.

Levels (each a bool, checked in this order; ``failed_level`` is the first one that is false):

- ``modeled``: every modelling stage (:data:`MODELING_STAGES`) produced a schema-valid output;
- ``coded``: the generated environment passed the executor's checks (``outcome.coded``);
- ``trained``: training finished and left a policy;
- ``policy_success``: that policy, run on the task's **reference** environment through the stated interface
  (the reference's observation vector, in the order the description states, and its action indices), reaches
  ``success_threshold`` as a mean over the task's ``eval_episodes``.

Continuous scores: ``normalized_return`` = (R - R_random) / (R_best - R_random) on the reference (unclipped),
``modeling_score`` (agreement with the gold outputs, :func:`modeling_score`), ``fidelity`` (agreement of the
generated environment's transitions with the reference's, :func:`fidelity`) and ``start_fidelity`` (agreement of
its start states, :func:`start_fidelity`: transitions alone miss a car that starts at the wrong place).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from alamp.envs import get_state, set_state, supports_state
from alamp.envs.policies import Policy
from alamp.spec.functions import deterministic_function_names
from alamp.tasks import GOLD_FIELDS, GoldOutputs, Task, load_task

__all__ = [
    "LEVELS",
    "MODELING_STAGES",
    "Level",
    "RunOutcome",
    "Verdict",
    "ReferenceEvaluation",
    "grade",
    "modeling_score",
    "modeling_breakdown",
    "fidelity",
    "fidelity_parts",
    "start_fidelity",
    "evaluate_on_reference",
    "metric_score",
    "make_dspy_metric",
]

Level = Literal["modeled", "coded", "trained", "policy_success"]
LEVELS: tuple[Level, ...] = ("modeled", "coded", "trained", "policy_success")
#: Stage outputs that must all be present and valid for the ``modeled`` level.
MODELING_STAGES: tuple[str, ...] = ("parameters", "objectives", "variables", "constraints", "mdp", "sar")

_STAGE_TYPES: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(GoldOutputs.model_fields[name].annotation) for name in GOLD_FIELDS
}


@dataclass
class RunOutcome:
    """What one run produced, as the metric needs it.

    Attributes:
        stages: Stage name (see :data:`alamp.tasks.GOLD_FIELDS`) -> that agent's output: a schema model, a list
            of them, an equivalent dict, or ``None`` when the stage failed. Missing keys count as failed.
        make_env: Zero-argument factory of the generated environment (used in process, for ``fidelity`` only), or
            ``None`` when there is none or it must not run in this process (fidelity is then not measured).
        coded: Whether the generated environment passed the executor's checks (on the llm route, in the
            sandbox: ``make_env`` is then ``None`` and the verdict's fidelity is n/a).
        trained: Whether training finished.
        policy: The trained policy (anything with ``act(obs) -> int``), or ``None``.
        path: Which path produced the environment: ``"compiler"`` (spec compiler), ``"llm"`` (Coding agent).
        messages: Errors or notes from the run, carried into the verdict.
    """

    stages: Mapping[str, Any] = field(default_factory=dict)
    make_env: Callable[[], gym.Env] | None = None
    coded: bool = False
    trained: bool = False
    policy: Policy | None = None
    path: Literal["compiler", "llm"] | None = None
    messages: list[str] = field(default_factory=list)


class Verdict(BaseModel):
    """The grade of one run on one task (JSON-serialisable; written to ``run.json``)."""

    task_id: str
    modeled: bool = False
    coded: bool = False
    trained: bool = False
    policy_success: bool = False
    failed_level: Level | None = Field(default=None, description="first level not reached; None on success")
    reference_return: float | None = Field(default=None, description="policy's mean return on the reference")
    reference_return_std: float | None = None
    threshold: float
    normalized_return: float | None = Field(default=None, description="(R - R_random) / (R_best - R_random)")
    modeling_score: float = Field(ge=0.0, le=1.0)
    modeling_details: dict[str, float] = Field(default_factory=dict)
    fidelity: float | None = Field(default=None, description="share of sampled transitions that agree; None: n/a")
    start_fidelity: float | None = Field(
        default=None, description="share of observations whose start distribution agrees; None: n/a"
    )
    fidelity_parts: dict[str, float] | None = Field(
        default=None,
        description="share of the same transitions on which each part agrees: step (the next observation), reward, "
        "termination; None: n/a",
    )
    path: Literal["compiler", "llm"] | None = None
    messages: list[str] = Field(default_factory=list)

    @property
    def score(self) -> float:
        """The float the DSPy metric returns outside bootstrapping (see :func:`metric_score`)."""
        return metric_score(self)


# ----------------------------------------------------------------------------------------------------------------
# Modelling agreement


def _coerce_stage(name: str, value: Any) -> Any:
    """Validate one stage output against its schema type.

    A container holding the output under the stage's name (e.g. a result model with a ``parameters`` field) is
    unwrapped first; schema models and dicts are both accepted.
    """
    if isinstance(value, BaseModel) and name in type(value).model_fields:
        value = getattr(value, name)
    if isinstance(value, BaseModel):
        value = value.model_dump()
    elif isinstance(value, list):
        value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
    return _STAGE_TYPES[name].validate_python(value)


def _valid_stages(stages: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    valid: dict[str, Any] = {}
    problems: list[str] = []
    for name in GOLD_FIELDS:
        raw = stages.get(name)
        if raw is None:
            continue
        try:
            valid[name] = _coerce_stage(name, raw)
        except (ValidationError, ValueError, TypeError) as exc:
            problems.append(f"stage {name!r} is not schema-valid: {str(exc).splitlines()[0]}")
    return valid, problems


def _values_match(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-9)


def _parameter_values_match(a: float | list[Any], b: float | list[Any]) -> bool:
    """Parameter values match: numbers as :func:`_values_match`, lists element-wise with equal shapes.

    A list never matches a number (coordinates ``[2, 2]`` are not the scalar ``2``).
    """
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return all(_parameter_values_match(x, y) for x, y in zip(a, b, strict=True))
    return _values_match(a, b)


def _name_tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[_\W]+", name.lower()) if t}


def _names_match(a: str, b: str) -> bool:
    a_l, b_l = a.lower(), b.lower()
    if a_l == b_l or difflib.SequenceMatcher(None, a_l, b_l).ratio() >= 0.8:
        return True
    ta, tb = _name_tokens(a), _name_tokens(b)
    return bool(ta and tb) and (ta <= tb or tb <= ta)


def _matched_f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    """F1 of a one-to-one greedy matching between two name lists (names compared loosely)."""
    if not predicted and not gold:
        return 1.0
    if not predicted or not gold:
        return 0.0
    unused = list(predicted)
    hits = 0
    for g in gold:
        for p in unused:
            if _names_match(p, g):
                unused.remove(p)
                hits += 1
                break
    precision, recall = hits / len(predicted), hits / len(gold)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


# Words of an expression that are no quantity of the reward: the spec language's functions that draw nothing, Python
# words, and the numpy/math prefixes and sum() that models write anyway.
_FUNCTION_NAMES = deterministic_function_names() | {"if", "else", "and", "or", "not", "sum", "np", "math"}


def _reward_terms(expression: str) -> list[str]:
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression)
    return sorted({n for n in names if n not in _FUNCTION_NAMES})


def modeling_breakdown(task: Task, stages: Mapping[str, Any]) -> dict[str, float]:
    """The components of :func:`modeling_score`, each in [0, 1] (a missing or invalid stage scores 0).

    - ``parameters``: share of the gold parameter values found among the predicted values (rel. tol. 1e-3;
      list values match equal-shaped lists element-wise, never a number);
    - ``variables``: F1 of predicted vs gold state-variable names (loose name match), from ``variables``;
    - ``observations``: 1 if the SAR observation count equals the gold count, else 0;
    - ``actions``: 1 if the SAR action count equals the gold count, else 0;
    - ``reward``: F1 of the quantities named in the SAR reward vs gold's (both constant: equal values).
    """
    valid, _ = _valid_stages(stages)
    gold = task.gold
    out: dict[str, float] = {}

    params = valid.get("parameters")
    if params is None:
        out["parameters"] = 0.0
    else:
        pool = [p.value for p in params]
        found = 0
        for gp in gold.parameters:
            for i, v in enumerate(pool):
                if _parameter_values_match(v, gp.value):
                    pool.pop(i)
                    found += 1
                    break
        out["parameters"] = found / len(gold.parameters) if gold.parameters else 1.0

    variables = valid.get("variables")
    gold_states = [v.name for v in gold.variables if v.role == "state"]
    out["variables"] = (
        0.0 if variables is None else _matched_f1([v.name for v in variables if v.role == "state"], gold_states)
    )

    sar = valid.get("sar")
    out["observations"] = float(sar is not None and len(sar.observations) == len(gold.sar.observations))
    out["actions"] = float(sar is not None and len(sar.actions) == len(gold.sar.actions))
    if sar is None:
        out["reward"] = 0.0
    else:
        gold_terms, pred_terms = _reward_terms(gold.sar.reward), _reward_terms(sar.reward)
        if not gold_terms:
            try:
                out["reward"] = float(not pred_terms and _values_match(float(sar.reward), float(gold.sar.reward)))
            except ValueError:
                out["reward"] = 0.0
        else:
            out["reward"] = _matched_f1(pred_terms, gold_terms)
    return out


def modeling_score(task: Task, stages: Mapping[str, Any]) -> float:
    """Agreement of the agents' outputs with the task's gold outputs: the mean of :func:`modeling_breakdown`."""
    parts = modeling_breakdown(task, stages)
    return float(sum(parts.values()) / len(parts))


# ----------------------------------------------------------------------------------------------------------------
# Reference environment: evaluation and fidelity


def _make_reference(task: Task) -> gym.Env:
    import alamp.envs  # noqa: F401  (registers the alamp ids)

    ref = task.reference
    return gym.make(ref.env_id, max_episode_steps=ref.max_episode_steps, **ref.kwargs)


@dataclass
class ReferenceEvaluation:
    """Returns of a policy on the reference environment."""

    mean: float
    std: float
    returns: list[float]


def policy_on_reference(
    task: Task,
    policy: Any,
    *,
    env_id: str,
    threshold: float,
    episodes: int | None,
    seed: int,
    messages: list[str],
) -> tuple[float | None, float | None, bool]:
    """The policy's mean and std return on the reference and whether it reaches ``threshold``; why not, in
    ``messages`` (a policy that cannot run there, e.g. an observation of the wrong size, scores nothing)."""
    try:
        result = evaluate_on_reference(task, policy, episodes=episodes, seed=seed)
    except Exception as exc:  # noqa: BLE001 - e.g. an observation of the wrong size for the policy
        messages.append(f"policy could not run on the reference {env_id}: {type(exc).__name__}: {exc}")
        return None, None, False
    success = result.mean >= threshold
    if not success:
        messages.append(f"policy returned {result.mean:.2f} on the reference ({env_id}); the threshold is {threshold}")
    return result.mean, result.std, success


def evaluate_on_reference(
    task: Task, policy: Policy, *, episodes: int | None = None, seed: int = 0
) -> ReferenceEvaluation:
    """Run ``policy`` on the task's reference environment, seeding episode ``i`` with ``seed + i``.

    The policy sees the reference's observation as a float32 vector (the order the description states) and its
    action index is passed to the reference unchanged (the order the description states).

    Raises:
        ValueError: If the policy returns an action the reference does not have.
    """
    env = _make_reference(task)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    returns: list[float] = []
    try:
        for i in range(episodes or task.reference.eval_episodes):
            obs, _ = env.reset(seed=seed + i)
            total, done = 0.0, False
            while not done:
                action = int(policy.act(np.asarray(obs, dtype=np.float32)))
                if not 0 <= action < n_actions:
                    raise ValueError(f"policy chose action {action}; the reference has actions 0..{n_actions - 1}")
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return ReferenceEvaluation(mean=float(np.mean(returns)), std=float(np.std(returns)), returns=returns)


def _sample_reference_states(task: Task, ref: gym.Env, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Half from random-action roll-outs (reachable states), half uniform in the bounds when the env can."""
    base = ref.unwrapped
    sampler = getattr(base, "sample_state", None)
    n_uniform = n // 2 if callable(sampler) else 0
    states: list[np.ndarray] = [np.asarray(sampler(rng), dtype=np.float64) for _ in range(n_uniform)]  # type: ignore[misc]
    n_actions = int(ref.action_space.n)  # type: ignore[attr-defined]
    while len(states) < n:
        ref.reset(seed=int(rng.integers(2**31)))
        for _ in range(task.reference.max_episode_steps):
            states.append(get_state(ref))
            _, _, terminated, truncated, _ = ref.step(int(rng.integers(n_actions)))
            if terminated or truncated or len(states) >= n:
                break
    return states[:n]


def _exhaustive_pairs(ref: gym.Env, n_actions: int, n_samples: int) -> list[tuple[np.ndarray, int]] | None:
    """Every (state, action) pair of a small finite reference, when there are at most ``n_samples`` of them."""
    lister = getattr(ref.unwrapped, "all_states", None)
    states = lister() if callable(lister) else None
    if states is None or len(states) * n_actions > n_samples:
        return None
    return [(state, action) for state in states for action in range(n_actions)]


def _step_from(env: gym.Env, state: np.ndarray, action: int, seed: int) -> tuple[np.ndarray, float, bool]:
    env.reset(seed=seed)
    set_state(env, state)
    obs, reward, terminated, _, _ = env.unwrapped.step(action)
    return np.asarray(obs, dtype=np.float64).reshape(-1), float(reward), bool(terminated)


def fidelity_parts(
    task: Task,
    make_generated_env: Callable[[], gym.Env],
    *,
    n_samples: int = 200,
    seed: int = 0,
    repeats: int | None = None,
    atol: float = 1e-4,
    rtol: float = 1e-4,
) -> dict[str, float] | None:
    """Share of sampled reference (state, action) pairs where the generated environment agrees with the reference.

    Both environments are put in the same state with ``set_state`` (the reference's state vector, in the order
    the description states) and stepped with the same action. They agree when the next observations, the rewards
    and the termination flags match within ``atol + rtol * |reference|``. A small finite reference (at most
    ``n_samples`` state-action pairs) is checked on every pair; otherwise states come half from random-action
    roll-outs and half uniformly from the bounds (when the reference can draw them). For a stochastic reference
    each pair is stepped ``repeats`` times (default 64) on each side and the means are compared, allowing four
    standard errors.

    A pair from which the reference itself leaves its own observation space is not counted: no episode steps
    from such a state (e.g. the step after the day ended, or after the battery ran empty), so the reference's
    answer there is no ground truth, and an environment that keeps its state in the stated bounds must not lose
    fidelity for it.

    Returns:
        Shares in [0, 1] of the checked pairs on which ``all`` three agree, and on which each part agrees: ``step``
        (the next observation), ``reward`` and ``termination`` (a step that matches while the reward does not says
        where to look); ``None`` when the generated environment has no ``set_state`` or no pair could be checked.
    """
    generated = make_generated_env()
    try:
        if not supports_state(generated):
            return None
        ref = _make_reference(task)
        rng = np.random.default_rng(seed)
        reps = (repeats or 64) if task.reference.stochastic else 1
        n_actions = int(ref.action_space.n)  # type: ignore[attr-defined]
        pairs = _exhaustive_pairs(ref, n_actions, n_samples)
        if pairs is None:
            states = _sample_reference_states(task, ref, n_samples, rng)
            pairs = [(state, int(rng.integers(n_actions))) for state in states]
        in_space = _observation_bounds_check(ref.observation_space)
        agree = {part: 0 for part in _FIDELITY_PARTS}
        checked = 0
        for state, action in pairs:
            ref_out = [_step_from(ref, state, action, int(rng.integers(2**31))) for _ in range(reps)]
            if not all(in_space(obs) for obs, _, _ in ref_out):
                continue
            checked += 1
            try:
                gen_out = [_step_from(generated, state, action, int(rng.integers(2**31))) for _ in range(reps)]
            except Exception:  # noqa: BLE001 - any failure of generated code is a disagreement, not a crash
                continue
            for part, agrees in _parts_agree(ref_out, gen_out, atol=atol, rtol=rtol).items():
                agree[part] += agrees
        ref.close()
        return {part: count / checked for part, count in agree.items()} if checked else None
    finally:
        generated.close()


def fidelity(task: Task, make_generated_env: Callable[[], gym.Env], **kwargs: Any) -> float | None:
    """Share of sampled reference (state, action) pairs where next observation, reward and termination all agree
    (:func:`fidelity_parts`, whose keyword arguments it takes)."""
    parts = fidelity_parts(task, make_generated_env, **kwargs)
    return None if parts is None else parts["all"]


def start_fidelity(
    task: Task,
    make_generated_env: Callable[[], gym.Env],
    *,
    n_resets: int = 64,
    seed: int = 0,
    atol: float = 1e-4,
) -> tuple[float | None, list[str]]:
    """Share of observation entries whose distribution at reset agrees with the reference's.

    Both environments are reset ``n_resets`` times (seeds ``seed``, ``seed + 1``, ...). An entry agrees when the
    means differ by at most four standard errors plus ``atol`` and the standard deviations by at most 30 % of the
    larger plus ``atol`` (a fixed start against a random one differs; two uniform ranges of the same width and
    centre agree).

    Returns:
        The share in [0, 1] (None when the observation shapes differ) and one line per disagreeing entry.
    """
    generated = make_generated_env()
    ref = _make_reference(task)
    try:
        ref_obs = np.array([np.asarray(ref.reset(seed=seed + i)[0], dtype=np.float64).reshape(-1)
                            for i in range(n_resets)])  # fmt: skip
        gen_obs = np.array([np.asarray(generated.reset(seed=seed + i)[0], dtype=np.float64).reshape(-1)
                            for i in range(n_resets)])  # fmt: skip
    finally:
        ref.close()
        generated.close()
    if ref_obs.shape != gen_obs.shape:
        return None, []
    lines: list[str] = []
    agree = 0
    for index in range(ref_obs.shape[1]):
        a, b = ref_obs[:, index], gen_obs[:, index]
        se = math.sqrt(a.var() / len(a) + b.var() / len(b))
        same_mean = abs(a.mean() - b.mean()) <= 4.0 * se + atol
        same_spread = abs(a.std() - b.std()) <= 0.3 * max(a.std(), b.std()) + atol
        if same_mean and same_spread:
            agree += 1
        else:
            lines.append(
                f"observation {index} at reset: reference {a.mean():.4g} ± {a.std():.3g}, "
                f"generated {b.mean():.4g} ± {b.std():.3g}"
            )
    return agree / ref_obs.shape[1], lines


def _observation_bounds_check(space: gym.Space) -> Callable[[np.ndarray], bool]:
    """``obs -> bool``: whether a flat observation lies in a ``Box`` space's bounds (any other space: always)."""
    if not isinstance(space, gym.spaces.Box):
        return lambda obs: True
    low = np.asarray(space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(space.high, dtype=np.float64).reshape(-1)
    slack = 1e-6 * (1.0 + np.maximum(np.abs(low), np.abs(high)))

    def check(obs: np.ndarray) -> bool:
        return obs.shape == low.shape and bool(np.all(obs >= low - slack) and np.all(obs <= high + slack))

    return check


_FIDELITY_PARTS = ("all", "step", "reward", "termination")


def _parts_agree(ref_out: list, gen_out: list, *, atol: float, rtol: float) -> dict[str, bool]:
    """Whether the outcomes agree, in all and per part (the observation columns, the reward, the termination flag)."""
    disagree = dict.fromkeys(_FIDELITY_PARTS, False)

    def stack(out: list) -> np.ndarray | None:
        rows = [np.concatenate([o, [r, float(t)]]) for o, r, t in out]
        if len({row.shape for row in rows}) != 1:
            return None
        return np.stack(rows)

    a, b = stack(ref_out), stack(gen_out)
    if a is None or b is None or a.shape != b.shape or not np.all(np.isfinite(b)):
        return disagree
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    slack = atol + rtol * np.abs(mean_a)
    if len(ref_out) > 1:
        se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
        slack = slack + 4.0 * se
    close = np.abs(mean_a - mean_b) <= slack
    return {"all": bool(np.all(close)), "step": bool(np.all(close[:-2])), "reward": bool(close[-2]),
            "termination": bool(close[-1])}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# The verdict


def grade(
    *,
    task: Task,
    outcome: RunOutcome,
    eval_episodes: int | None = None,
    seed: int = 0,
    fidelity_samples: int = 200,
) -> Verdict:
    """Grade one run against its task (see the module docstring for the levels and scores).

    Args:
        task: The task the run was given.
        outcome: What the run produced.
        eval_episodes: Episodes on the reference; default the task's ``eval_episodes``.
        seed: Seed of the reference episodes and of the fidelity samples.
        fidelity_samples: Reference (state, action) pairs for :func:`fidelity`; 0 skips it.
    """
    messages = list(outcome.messages)
    valid, problems = _valid_stages(outcome.stages)
    messages += problems
    missing = [s for s in MODELING_STAGES if s not in valid]
    modeled = not missing
    if missing:
        messages.append(f"modelling stages missing or invalid: {missing}")
    details = modeling_breakdown(task, valid)
    coded = bool(outcome.coded)
    if not coded:
        messages.append("no environment passed the executor's checks")
    trained = bool(outcome.trained and outcome.policy is not None)
    if coded and not trained:
        messages.append("training did not finish with a policy")

    fid: float | None = None
    parts: dict[str, float] | None = None
    start_fid: float | None = None
    if coded and outcome.make_env is None and outcome.path == "llm":
        # The llm route's environment is generated code: it ran the executor's checks in the sandbox, and it
        # must never be imported into this process, so there is nothing to measure fidelity on here.
        messages.append("fidelity n/a: generated code runs only in the sandbox")
    if coded and outcome.make_env is not None and fidelity_samples > 0:
        try:
            make_env = outcome.make_env
            parts = fidelity_parts(task, make_env, n_samples=fidelity_samples, seed=seed)  # type: ignore[arg-type]
            fid = None if parts is None else parts["all"]
        except Exception as exc:  # noqa: BLE001 - a broken generated env scores 0, it must not crash the grader
            fid = 0.0
            messages.append(f"fidelity check failed: {type(exc).__name__}: {exc}")
        try:
            start_fid, start_lines = start_fidelity(task, outcome.make_env, seed=seed)  # type: ignore[arg-type]
            messages += start_lines
        except Exception as exc:  # noqa: BLE001 - as above
            start_fid = 0.0
            messages.append(f"start-state check failed: {type(exc).__name__}: {exc}")

    ref = task.reference
    mean = std = normalized = None
    success = False
    if trained:
        mean, std, success = policy_on_reference(
            task, outcome.policy, env_id=ref.env_id, threshold=ref.success_threshold, episodes=eval_episodes,
            seed=seed, messages=messages,
        )  # fmt: skip
        if mean is not None:
            normalized = (mean - ref.random_return) / (ref.best_return - ref.random_return)

    levels = {"modeled": modeled, "coded": coded, "trained": trained, "policy_success": success}
    failed = next((name for name in LEVELS if not levels[name]), None)
    return Verdict(
        task_id=task.id,
        **levels,
        failed_level=failed,
        reference_return=mean,
        reference_return_std=std,
        threshold=ref.success_threshold,
        normalized_return=normalized,
        modeling_score=float(sum(details.values()) / len(details)),
        modeling_details=details,
        fidelity=fid,
        start_fidelity=start_fid,
        fidelity_parts=parts,
        path=outcome.path,
        messages=messages,
    )


def metric_score(verdict: Verdict) -> float:
    """``0.25 * modeled + 0.25 * coded + 0.5 * clip(normalized_return, 0, 1)`` (a missing return counts 0)."""
    norm = 0.0 if verdict.normalized_return is None else min(max(verdict.normalized_return, 0.0), 1.0)
    return 0.25 * verdict.modeled + 0.25 * verdict.coded + 0.5 * norm


def _feedback(verdict: Verdict) -> str:
    if verdict.failed_level is None:
        head = (
            f"Success: the policy reached {verdict.reference_return:.2f} on the reference "
            f"(threshold {verdict.threshold})."
        )
    else:
        head = f"Failed at level '{verdict.failed_level}'."
    parts = ", ".join(f"{k} {v:.2f}" for k, v in verdict.modeling_details.items())
    lines = [head, f"Modelling agreement with the gold outputs: {verdict.modeling_score:.2f} ({parts})."]
    if verdict.fidelity is not None:
        lines.append(f"Transition fidelity to the reference: {verdict.fidelity:.2f}.")
    if verdict.start_fidelity is not None:
        lines.append(f"Start-state fidelity to the reference: {verdict.start_fidelity:.2f}.")
    lines += verdict.messages[:6]
    return "\n".join(lines)


def make_dspy_metric(
    *,
    realize: Callable[[Any, Any], RunOutcome],
    feedback: bool = False,
    task_lookup: Callable[[str], Task] = load_task,
    **grade_kwargs: Any,
) -> Callable[..., Any]:
    """Wrap :func:`grade` as a DSPy metric.

    Args:
        realize: ``(example, pred) -> RunOutcome``: builds the environment from the prediction and trains (the run
            pipeline supplies it). An exception inside it is graded as a run that produced nothing.
        feedback: Return ``dspy.Prediction(score=..., feedback=...)`` (GEPA style) naming the failed level.
        task_lookup: ``task_id -> Task`` (default :func:`alamp.tasks.load_task`).
        **grade_kwargs: Passed on to :func:`grade` (e.g. ``eval_episodes``, ``fidelity_samples``).

    Returns:
        ``metric(example, pred, trace=None, *args)``. With a trace (bootstrapping) it returns the bool
        ``policy_success``; otherwise the float :func:`metric_score`, or with ``feedback`` the prediction above.
    """

    def metric(example: Any, pred: Any, trace: Any = None, *args: Any, **kwargs: Any) -> Any:
        task = task_lookup(example.task_id)
        try:
            outcome = realize(example, pred)
        except Exception as exc:  # noqa: BLE001 - a crash while realising a candidate is a failed run
            outcome = RunOutcome(messages=[f"the run failed: {type(exc).__name__}: {exc}"])
        verdict = grade(task=task, outcome=outcome, **grade_kwargs)
        if feedback:
            import dspy

            return dspy.Prediction(score=metric_score(verdict), feedback=_feedback(verdict))
        if trace is not None:
            return verdict.policy_success
        return metric_score(verdict)

    return metric
