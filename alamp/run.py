"""``python -m alamp.run``: a description in; the formal MDP, an environment, a policy and a verdict out.

Examples::

    python -m alamp.run task=cartpole                          # A-LAMP on a task of data/tasks/
    python -m alamp.run description_file=my_problem.txt        # your own description (no grading)
    python -m alamp.run task=cartpole pipeline=single_model    # the one-call baseline
    python -m alamp.run task=cartpole coding=llm max_repairs=3 # the Coding agent's route
    python -m alamp.run task=cartpole program=artifacts/alamp_local.json   # a compiled program
    python -m alamp.run resume=runs/20250101-120000_cartpole   # continue a killed run, no repeated LM calls
    python -m alamp.run spec=runs/20250101-120000_cartpole/env_spec.json task=cartpole  # a hand-edited spec, no LM
    python -m alamp.run description_file=my_problem.txt reference=CartPole-v1   # grade against your simulator

Everything a run produces goes into its directory (see ``alamp.run_dir``), every environment candidate too
(``candidates/<k>-<attempt>/``). The run is strictly sequential: LM stages first, then training; the local LLM
server is stopped before training so the two never share the CPU. The process exits with
``alamp.exit_codes.exit_code_for_status(status)``: 0 on success, a distinct non-zero code per kind of failure.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dspy
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from alamp.exit_codes import ExitCode, exit_code_for_status
from alamp.paths import conf_dir, project_root
from alamp.program import ALAMP, PREDICTION_FIELDS, ProgramSettings, SingleModelBaseline
from alamp.run_dir import RunDir, register_resolvers
from alamp.sandbox import SandboxLimits

__all__ = [
    "main",
    "run",
    "RunInputError",
    "build_program",
    "ending_lines",
    "load_compiled",
    "resolve_program_path",
    "settings_from_config",
]

log = logging.getLogger(__name__)

register_resolvers()


class RunInputError(ValueError):
    """The run's input is unusable (unknown task, missing file, neither given); the message says what to do."""


# --- building the program ---------------------------------------------------------------------------------------


def _limits(node: Mapping[str, Any] | None) -> SandboxLimits:
    return SandboxLimits(**dict(node or {}))


def settings_from_config(cfg: DictConfig) -> ProgramSettings:
    """The program's knobs from the composed config (top-level, ``pipeline`` and ``coding`` groups)."""
    return ProgramSettings(
        coding=cfg.coding.name,
        max_repairs=int(cfg.max_repairs),
        num_candidates=int(cfg.num_candidates),
        candidate_temperature=float(cfg.candidate_temperature),
        stage_retries=int(cfg.pipeline.stage_retries),
        check_steps=int(cfg.pipeline.check_steps),
        seed=int(cfg.seed),
        sampling_seed=int(cfg.seed) if cfg.get("seed_sampling", False) else 0,
        sampling_temperature=float(cfg.get("seed_temperature", 0.5)),
        clip_state=bool(cfg.pipeline.clip_state),
        plain_math=bool(cfg.pipeline.get("plain_math", True)),
        env_budget_s=None if cfg.get("env_budget_s") is None else float(cfg.env_budget_s),
        env_give_up_s=None if cfg.get("env_give_up_s") is None else float(cfg.env_give_up_s),
        sandbox=_limits(cfg.coding.get("sandbox")),
    )


def _agent_lms(cfg: DictConfig) -> dict[str, dspy.LM]:
    """Per-agent LM overrides: ``pipeline.agent_lm: {coding: openai}`` uses ``conf/lm/openai.yaml`` for Coding."""
    overrides = dict(cfg.pipeline.get("agent_lm") or {})
    if not overrides:
        return {}
    from alamp.lm import build_lm, load_lm_config

    return {agent: build_lm(load_lm_config([f"lm={preset}"])) for agent, preset in overrides.items()}


def load_compiled(program: dspy.Module, path: str | Path) -> dspy.Module:
    """Load a compiled program into ``program``: ``alamp.load_program`` when available, else ``Module.load``."""
    path = Path(path)
    if not path.exists():
        raise RunInputError(f"program={path} does not exist; compile one with `python -m alamp.compile` first")
    try:
        from alamp.artifact import load_program
    except ImportError:
        program.load(str(path))
        return program
    return load_program(path, program=program)


def build_program(cfg: DictConfig) -> dspy.Module:
    """``ALAMP`` or ``SingleModelBaseline`` as configured, with a compiled program loaded when ``program=`` is set."""
    settings = settings_from_config(cfg)
    name = cfg.pipeline.name
    classes = {"alamp": ALAMP, "single_model": SingleModelBaseline}
    if name not in classes:
        raise RunInputError(f"pipeline={name!r} is unknown; use pipeline=alamp or pipeline=single_model")
    program = classes[name](settings, lms=_agent_lms(cfg))
    path = resolve_program_path(cfg)
    if path is not None:
        program = load_compiled(program, path)
    return program


def resolve_program_path(cfg: DictConfig) -> Path | None:
    """The compiled program to load: ``program=PATH``, none for ``program=null|none``, and for ``program=auto``
    the artifact compiled for this pipeline *and the configured LM* (``alamp.artifact_names``): the pipeline's
    ``default_program`` when its metadata names ``lm.model``, else the newest such file in ``artifacts/``; with
    none, the zero-shot program and a warning (a program compiled for another LM is never picked silently)."""
    value = cfg.get("program")
    if value is None or str(value).lower() in ("", "none", "null", "zero_shot"):
        return None
    if str(value).lower() == "auto":
        from alamp.artifact_names import compiled_for, find_compiled_program

        pipeline = str(cfg.pipeline.get("name", "alamp"))
        model = str(cfg.lm.get("model")) if cfg.get("lm") is not None else ""
        default = cfg.pipeline.get("default_program")
        prefer = None
        if default:
            prefer = Path(default) if Path(default).is_absolute() else project_root() / default
        directory = prefer.parent if prefer is not None else project_root() / "artifacts"
        found = find_compiled_program(directory=directory, pipeline=pipeline, model=model, prefer=prefer)
        if found is not None:
            log.info("program=auto: %s (compiled for %s)", found, model)
            return found
        others = compiled_for(directory=directory, pipeline=pipeline)
        log.warning("program=auto: no %s program compiled for LM %s in %s%s; running zero-shot (compile one with "
                    "`python -m alamp.compile lm=...`, or pass program=PATH)", pipeline, model, directory,
                    f" (there: {others})" if others else "")
        return None
    return Path(str(value))


# --- input ------------------------------------------------------------------------------------------------------


def resolve_input(cfg: DictConfig) -> tuple[str, Any | None, str]:
    """The description, the task (or None) and a label for the run.

    With ``spec=`` alone the description is the ``description.txt`` beside the spec file (a run directory's), or
    empty.

    Raises:
        RunInputError: Unknown task id (the known ids are listed), missing description file, or no input.
    """
    if cfg.get("task"):
        from alamp.tasks import load_task, task_ids

        try:
            task = load_task(str(cfg.task))
        except FileNotFoundError as exc:
            raise RunInputError(f"unknown task {cfg.task!r}; known tasks: {', '.join(task_ids()) or '(none)'}") from exc
        return task.description, task, task.id
    if cfg.get("description_file"):
        from alamp.description_check import DescriptionError, read_description_file

        path = Path(str(cfg.description_file)).expanduser()
        try:
            text = read_description_file(path)  # UTF-8, bounded in size, no control characters, not empty
        except DescriptionError as exc:
            raise RunInputError(str(exc)) from exc
        return text, None, path.stem
    if cfg.get("spec"):
        beside = Path(str(cfg.spec)).expanduser().parent / "description.txt"
        text = beside.read_text(encoding="utf-8") if beside.is_file() else ""
        return text, None, Path(str(cfg.spec)).expanduser().parent.name or "spec"
    raise RunInputError(
        "no input: pass task=<id> (see data/tasks/), description_file=PATH, spec=PATH/env_spec.json or resume=DIR"
    )


# Options whose value shaped the stages a run already finished: a resumed run must keep them. Everything else
# (train, trainer, logger, progress, reference*, lm_cache, the LM server's knobs) only affects what comes next.
_STAGE_OPTIONS = (
    "task", "spec", "program", "max_repairs", "num_candidates", "env_budget_s", "env_give_up_s",
    "candidate_temperature", "seed", "seed_sampling", "seed_temperature", "pipeline", "coding.name", "lm.model",
    "lm.backend", "lm.temperature", "lm.max_tokens",
)  # fmt: skip


def _select(cfg: Any, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=None) if isinstance(cfg, DictConfig) else None
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


def _given_keys(overrides: list[str] | None) -> set[str] | None:
    """The top-level or dotted keys the command line set (None: unknown, every non-null option counts)."""
    if overrides is None:
        return None
    return {item.split("=", 1)[0].lstrip("+~") for item in overrides}


def _compared_options(given: set[str] | None, cfg: DictConfig) -> list[str]:
    """The options a resumed run must keep that the command line set, at the depth it set them: ``lm=openai``
    compares ``lm.model`` (and the other ``lm.*`` of ``_STAGE_OPTIONS``), ``pipeline.check_steps=300`` compares
    just that. Without the command line (``given`` None), every non-null option of ``_STAGE_OPTIONS``."""
    if given is None:
        return [key for key in _STAGE_OPTIONS if _select(cfg, key) is not None]
    keys: list[str] = []
    for override in sorted(given):
        for key in _STAGE_OPTIONS:
            if override == key or key.startswith(override + "."):
                keys.append(key)
            elif override.startswith(key + "."):
                keys.append(override)
    return [key for key in dict.fromkeys(keys) if not (key in ("task", "spec") and _select(cfg, key) is None)]


def resume_config(
    cfg: DictConfig, *, overrides: list[str] | None = None
) -> tuple[DictConfig, str, Any | None, str]:
    """The configuration, description, task and label of the run ``resume=DIR`` continues.

    The run's own ``config.yaml`` and ``description.txt`` are read; options given now that shaped its finished
    stages (``_STAGE_OPTIONS``, and the description) must equal the saved ones, others (``train``, ``trainer``,
    ``logger``, ``reference``...) take the new value.

    Args:
        cfg: The composed config (with ``resume``).
        overrides: The command line's overrides (``key=value``), to tell given options from defaults; None: every
            non-null option of ``cfg`` counts as given.

    Raises:
        RunInputError: The directory is missing or no run directory, or an option or the description differs.
    """
    path = Path(str(cfg.resume)).expanduser()
    if not path.is_dir():
        raise RunInputError(f"resume={path}: no such directory; pass the directory of a run (runs/<time>_<label>)")
    saved_config, saved_text = path / "config.yaml", path / "description.txt"
    missing = [p.name for p in (path / "run.json", saved_config, saved_text) if not p.is_file()]
    if missing:
        raise RunInputError(
            f"resume={path}: not a run directory written by python -m alamp.run (missing {', '.join(missing)})"
        )
    try:
        saved = OmegaConf.create(saved_config.read_text(encoding="utf-8"))
    except Exception as exc:  # a corrupt file: say which
        raise RunInputError(f"resume={path}: {saved_config} is not readable YAML ({exc})") from exc
    description = saved_text.read_text(encoding="utf-8")
    given = _given_keys(overrides)
    differences = []
    for key in _compared_options(given, cfg):
        now, before = _select(cfg, key), _select(saved, key)
        if now != before:
            differences.append(f"{key}={now!r} (the run used {before!r})")
    if cfg.get("description_file") and (given is None or "description_file" in given):
        new_path = Path(str(cfg.description_file)).expanduser()
        if not new_path.is_file() or new_path.read_text(encoding="utf-8").strip() != description.strip():
            differences.append(f"description_file={new_path} (its text differs from {saved_text})")
    if differences:
        raise RunInputError(
            f"resume={path} cannot change what its finished stages were built from: {'; '.join(differences)}. "
            "Drop these options to continue the run as it was, or start a new run. (train, trainer, logger and "
            "reference may change on resume.)"
        )
    effective = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(effective):
        for key in ("task", "description_file", "spec", "program", "max_repairs", "num_candidates",
                    "candidate_temperature", "seed", "seed_sampling", "seed_temperature", "pipeline", "coding"):
            if saved.get(key) is not None or key in ("task", "description_file", "spec"):
                OmegaConf.update(effective, key, saved.get(key), force_add=True, merge=False)
        for key in ("model", "backend", "temperature", "max_tokens"):
            if OmegaConf.select(saved, f"lm.{key}") is not None:
                OmegaConf.update(effective, f"lm.{key}", OmegaConf.select(saved, f"lm.{key}"), force_add=True)
    task = None
    if saved.get("task"):
        from alamp.tasks import load_task

        task = load_task(str(saved.task))
    label = (task.id if task is not None else None) or _saved_label(path) or path.name
    return effective, description, task, label


def _saved_label(path: Path) -> str | None:
    try:
        return json.loads((path / "run.json").read_text(encoding="utf-8")).get("label")
    except (OSError, ValueError):
        return None


def load_spec_file(path: str | Path) -> Any:
    """The ``EnvSpec`` in a JSON file (``spec=``), compiled once to find every problem.

    Raises:
        RunInputError: Missing file, not JSON, not an environment spec, or a spec that does not compile; the
            message names the file and each problem.
    """
    from pydantic import ValidationError

    from alamp.schema import EnvSpec
    from alamp.spec import SpecError, compile_spec

    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise RunInputError(f"spec={path} does not exist; give an env_spec.json (a run directory has one)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RunInputError(f"spec={path} is not valid JSON: {exc}") from exc
    try:
        spec = EnvSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise RunInputError(f"spec={path} is not an environment spec: {problems}") from exc
    try:
        compile_spec(spec)
    except SpecError as exc:
        listed = "\n".join(f"  - {p}" for p in exc.problems)
        raise RunInputError(f"spec={path} does not compile; fix these and run again:\n{listed}") from exc
    return spec


def _spec_prediction(spec: Any, *, seed: int, check_steps: int) -> Any:
    """A prediction built from a given spec, with no LM: compiled, checked, emitted (``spec=``)."""
    from alamp.executor import actions_change_anything, check_env_factory
    from alamp.schema.agents import ExecutionReport
    from alamp.spec import compile_spec, emit_python

    started = time.perf_counter()
    compiled = compile_spec(spec)
    report = check_env_factory(compiled.make_env, sar=None, n_steps=check_steps, seed=seed)
    if report.passed and not actions_change_anything(compiled.make_env, seed=seed):
        report = ExecutionReport(
            passed=False, stage_failed="actions",
            error="the actions have no effect: from every sampled state, each action gives the same next state and "
                  "reward; make the updates read what the actions set", seconds=report.seconds,
        )  # fmt: skip
    attempt = {"route": "compiler", "candidate": 0, "attempt": 0, "passed": report.passed,
               "stage_failed": report.stage_failed, "error": report.error, "spec": spec.model_dump(mode="json")}
    record = {"stage": "spec", "status": "ok", "error": "", "seconds": round(time.perf_counter() - started, 3),
              "lm": {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cache_hits": 0}, "lm_by_agent": {},
              "env_passed": report.passed}  # fmt: skip
    values = dict.fromkeys(PREDICTION_FIELDS)
    values.update(
        env_spec=spec, code=emit_python(spec) if report.passed else None,
        coding_path="compiler" if report.passed else None, env_passed=report.passed, env_report=report,
        attempts=[attempt], notes=["spec= : no agent ran"],
        status="ok" if report.passed else "env_failed", failed_stage=None if report.passed else "env",
        error="" if report.passed else f"the spec failed the {report.stage_failed} check: {report.error}",
        stages={"spec": record},
    )  # fmt: skip
    return dspy.Prediction(**values)


def _reference(cfg: DictConfig, task: Any | None) -> Any | None:
    """``reference=`` resolved (None when not given).

    Raises:
        RunInputError: Given together with ``task=`` (a task has its reference), or unusable options.
    """
    if not cfg.get("reference"):
        for key in ("reference_obs_order", "reference_action_order", "reference_threshold"):
            if cfg.get(key) is not None:
                raise RunInputError(f"{key}= needs reference=<gymnasium id> (the environment to grade against)")
        return None
    if task is not None:
        raise RunInputError(
            f"reference={cfg.reference} with task={task.id}: a task is graded against its own reference "
            f"({task.reference.env_id}); use reference= with description_file= or spec="
        )
    from alamp.reference import ReferenceOptionError, user_reference

    def listed(key: str) -> list[int] | None:
        value = cfg.get(key)
        if value is None:
            return None
        return [int(v) for v in (OmegaConf.to_container(value) if isinstance(value, ListConfig) else value)]

    try:
        return user_reference(
            str(cfg.reference),
            obs_order=listed("reference_obs_order"),
            action_order=listed("reference_action_order"),
            threshold=None if cfg.get("reference_threshold") is None else float(cfg.reference_threshold),
            episodes=int(cfg.get("reference_episodes", 100)),
            seed=int(cfg.seed),
        )
    except (ReferenceOptionError, ValueError, TypeError) as exc:
        raise RunInputError(str(exc)) from exc


# --- progress ---------------------------------------------------------------------------------------------------

#: Stages whose record says ``ok`` even when no environment passed: their output's ``env_passed`` decides the mark.
_ENV_STAGES = ("env", "coding", "single_model", "single_model_code", "spec")


def stage_failure(stage: str, record: Mapping[str, Any]) -> str | None:
    """Why a finished stage failed (None if it passed): its error, or for an environment stage whose candidates
    all failed their checks, the last checker message."""
    if record.get("status") not in (None, "ok"):
        return str(record.get("error") or "failed")
    if stage in _ENV_STAGES:
        output = record.get("output") or {}
        passed = output.get("env_passed", record.get("env_passed"))
        if passed is False:
            attempts = output.get("attempts") or []
            last = next((a for a in reversed(attempts) if a.get("error")), {})
            report = output.get("env_report") or {}
            reason = last.get("error") or report.get("error") or "no candidate passed the checks"
            where = f" ({last.get('stage_failed')} check)" if last.get("stage_failed") else ""
            return f"{len(attempts)} attempt(s), none passed{where}: {reason}"
    return None


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _Progress:
    """Per-stage progress on the terminal (rich): a spinner while a stage runs, one honest line when it ends."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, quiet=not enabled, highlight=False)
        self._status: Any = None

    def start(self, stage: str) -> None:
        self.stop()
        self._status = self.console.status(f"[bold]{stage}[/bold] …")
        self._status.start()

    def end(self, stage: str, record: Mapping[str, Any]) -> None:
        self.stop()
        from rich.markup import escape

        lm = record.get("lm") or {}
        failure = stage_failure(stage, record)
        mark = "[red]✗[/red]" if failure else "[green]✓[/green]"
        tokens = int(lm.get("prompt_tokens", 0)) + int(lm.get("completion_tokens", 0))
        self.console.print(
            f"{mark} {stage:<18} {record.get('seconds', 0):7.1f} s  {lm.get('calls', 0)} LM call(s)  {tokens} tokens"
        )
        if failure:
            self.console.print(f"  [red]{escape(_one_line(failure, 300))}[/red]")

    def line(self, passed: bool, stage: str, text: str) -> None:
        from rich.markup import escape

        self.stop()
        mark = "[green]✓[/green]" if passed else "[red]✗[/red]"
        self.console.print(f"{mark} {stage:<18} {escape(text)}")

    def note(self, text: str) -> None:
        self.stop()
        self.console.print(text)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


# --- the run ----------------------------------------------------------------------------------------------------


def _lm_totals(stages: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """LM calls and tokens per agent and in total, summed over stages (resumed stages keep their first counts)."""
    per_agent: dict[str, dict[str, int]] = {}
    for record in stages.values():
        for agent, usage in (record.get("lm_by_agent") or {}).items():
            slot = per_agent.setdefault(
                agent, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cache_hits": 0, "seconds": 0.0}
            )
            for key in ("calls", "prompt_tokens", "completion_tokens", "cache_hits"):
                slot[key] += int(usage.get(key, 0))
        agents = list(record.get("lm_by_agent") or {})
        if len(agents) == 1:
            per_agent[agents[0]]["seconds"] += float(record.get("seconds", 0.0))
    for slot in per_agent.values():
        slot["total_tokens"] = slot["prompt_tokens"] + slot["completion_tokens"]
    calls = sum(s["calls"] for s in per_agent.values())
    tokens = sum(s["total_tokens"] for s in per_agent.values())
    return {"calls": calls, "total_tokens": tokens, "per_agent": per_agent}


def _lm_description(cfg: DictConfig, lm: dspy.LM | None) -> dict[str, Any]:
    model = getattr(lm, "model", None) or cfg.lm.get("model")
    return {"model": model, "backend": cfg.lm.get("backend")}


def lm_settings(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """``cfg.lm`` with the pipeline's ``lm_overrides`` applied (the one-call baseline needs a longer answer)."""
    lm = OmegaConf.to_container(cfg["lm"], resolve=True) if isinstance(cfg["lm"], DictConfig) else dict(cfg["lm"])
    overrides = (cfg.get("pipeline") or {}).get("lm_overrides") or {}
    if isinstance(overrides, DictConfig):
        overrides = OmegaConf.to_container(overrides, resolve=True)
    return {**lm, **dict(overrides)}


def _configure_lm(cfg: DictConfig) -> dspy.LM:
    from alamp.lm import LMConfig, configure_dspy

    return configure_dspy(LMConfig.from_mapping(lm_settings(cfg)))


def _stop_lm_server() -> None:
    try:
        from alamp.lm import stop_local_server
    except ImportError:
        return
    stop_local_server()


# Error names (litellm's, alamp.lm's) that mean the LM itself was unreachable, not that its answer was bad.
_LM_DOWN = re.compile(
    r"\b(APIConnectionError|ServiceUnavailableError|InternalServerError|BadGatewayError|Timeout|RateLimitError|"
    r"AuthenticationError|PermissionDeniedError|ServerDiedError|ServerStartError|MissingAPIKeyError|"
    r"ConnectionRefusedError|ConnectError)\b"
)


def _lm_was_down(pred: Any) -> bool:
    """Whether the chain stopped because the LM could not be reached (every failure an LM transport error)."""
    if pred.status == "failed":
        return bool(_LM_DOWN.search(str(pred.error or "")[:400]))
    if pred.status == "env_failed":
        attempts = pred.attempts or []
        return bool(attempts) and all(
            a.get("stage_failed") == "agent" and _LM_DOWN.search(str(a.get("error") or "")[:400]) for a in attempts
        )
    return False


def run(
    cfg: DictConfig,
    *,
    run_dir: Path | None = None,
    lm: dspy.LM | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline as configured and return the run summary (also written to ``run.json``).

    The summary's ``status`` is one of ``ok``, ``failed`` (an agent before the environment), ``env_failed``,
    ``train_failed``, ``policy_failed`` (trained, but below the reference's threshold) and ``lm_unavailable``;
    ``exit_code`` is ``alamp.exit_codes.exit_code_for_status(status)``; ``next_steps`` say what to try.

    Args:
        cfg: The composed config (``conf/run.yaml``).
        run_dir: Where to write (default: ``resume``, else Hydra's output directory).
        lm: An LM to use instead of configuring one from ``cfg.lm`` (tests pass a scripted fake).
        overrides: The command line's ``key=value`` overrides (tells a resumed run which options were given).

    Raises:
        RunInputError: The input is unusable (the message says how to fix it).
        alamp.lm.errors.LMSetupError: The configured LM could not be set up (no key, no model, server down).
    """
    started = time.perf_counter()
    if cfg.get("resume"):
        cfg, description, task, label = resume_config(cfg, overrides=overrides)
        path = Path(str(cfg.resume)).expanduser()
    else:
        description, task, label = resolve_input(cfg)
        path = run_dir or _hydra_output_dir()
    spec = load_spec_file(cfg.spec) if cfg.get("spec") else None
    reference = _reference(cfg, task)
    progress = _Progress(bool(cfg.get("progress", True)))
    directory = RunDir(path, on_stage_start=progress.start, on_stage_end=progress.end)
    resumed = bool(directory.completed_stages())
    if resumed:
        progress.note(f"resuming {path}: completed stages {', '.join(directory.completed_stages())}")
    directory.write_text("description.txt", description)
    directory.write_text("config.yaml", OmegaConf.to_yaml(cfg, resolve=True))

    active_lm: dspy.LM | None = None
    program = None
    if spec is None:
        try:
            program = build_program(cfg)
        except RunInputError as exc:
            _record_early_failure(directory, "bad_input", str(exc), [])
            raise
        from alamp.lm.cache import configure_lm_cache
        from alamp.lm.errors import LMSetupError

        configure_lm_cache(cfg.get("lm_cache"))
        try:
            active_lm = lm if lm is not None else _configure_lm(cfg)
        except LMSetupError as exc:
            _record_early_failure(directory, "lm_unavailable", f"the LM could not be set up: {exc}", [
                "`make check` tests the embedded model; for a hosted one set the key variable its conf/lm/*.yaml "
                "names (api_key_env)", f"then: python -m alamp.run resume={path}"])
            raise
        if lm is not None:
            dspy.configure(lm=lm)
    directory.update(
        task=task.id if task is not None else None,
        label=label,
        pipeline=cfg.pipeline.name if spec is None else "spec",
        coding=cfg.coding.name if spec is None else "compiler",
        seed=int(cfg.seed),
        program=(str(resolve_program_path(cfg) or "") or None) if spec is None else None,
        spec_file=str(cfg.spec) if spec is not None else None,
        reference=reference.env_id if reference is not None else None,
        lm_config=_lm_description(cfg, active_lm) if spec is None else None,
        status="running",
        resumed=resumed,
    )

    from alamp.tracking import Tracker

    with Tracker.start(
        cfg.get("logger"),
        config=OmegaConf.to_container(cfg, resolve=True),
        job_type="run",
        name=f"{label}-{cfg.pipeline.name if spec is None else 'spec'}",
        directory=path,
    ) as tracker:
        if spec is None:
            pred = program(description=description, name=label, recorder=directory)
        else:
            pred = _spec_prediction(spec, seed=int(cfg.seed), check_steps=int(cfg.pipeline.check_steps))
            progress.end("spec", {**pred.stages["spec"], "output": {"env_passed": pred.env_passed,
                                                                    "attempts": pred.attempts}})
        progress.stop()
        threshold = task.reference.success_threshold if task is not None else (
            reference.threshold if reference is not None else None)
        summary = _write_artifacts(directory, pred, reward_threshold=threshold)
        tracker.log_stage_outputs(pred.stages)

        if pred.env_passed and cfg.get("train", True):
            if cfg.get("stop_lm_before_training", True) and lm is None and spec is None:
                _stop_lm_server()
            progress.start("training")
            from alamp.pipeline import train_and_grade

            outcome = train_and_grade(
                pred=pred,
                task=task,
                trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
                out_dir=directory.path / "training",
                train_limits=_limits(cfg.coding.get("train_sandbox")),
                seed=int(cfg.seed),
            )
            training = outcome.get("training") or {}
            progress.line(bool(training.get("trained")), "training", _training_line(training))
            summary["training"] = training
            summary["verdict"] = outcome.get("verdict")
            if reference is not None and training.get("trained"):
                summary["verdict"] = _grade_reference(pred, training, reference, seed=int(cfg.seed))
            if training.get("curve"):
                tracker.log_training_curve(training["curve"])
            if summary["verdict"]:
                tracker.log_verdict(summary["verdict"])
            status = outcome.get("status", "ok")
            verdict = summary["verdict"] or {}
            if status == "ok" and verdict.get("graded", True) and verdict and not verdict.get("policy_success"):
                status = "policy_failed"
        else:
            status = pred.status
            if task is not None:
                from alamp.pipeline import grade_prediction

                summary["verdict"] = grade_prediction(pred=pred, task=task)
            elif reference is not None:
                summary["verdict"] = _grade_reference(pred, None, reference, seed=int(cfg.seed))
            else:
                summary["verdict"] = _verdict_without_training(pred)
        if status in ("failed", "env_failed") and spec is None and _lm_was_down(pred):
            status = "lm_unavailable"
        if (task is not None or reference is not None) and summary.get("verdict"):
            progress.line(grading_passed(summary["verdict"]), "grading", _grading_line(summary["verdict"]))
        summary.update(status=status, wall_time_s=round(time.perf_counter() - started, 3))
        summary["exit_code"] = int(exit_code_for_status(status))
        summary["next_steps"] = next_steps(cfg, status=status, summary=summary, run_path=path, task=task)
        directory.update(**summary)
        _write_report(directory.path)
        tracker.log_run(directory.path)
    return directory.summary


def _write_report(path: Path) -> None:
    """``report.html`` and ``report.md`` of the run (a report bug must not fail a run that worked: it is logged)."""
    from alamp.run_report import write_run_report

    try:
        write_run_report(path)
    except Exception as exc:  # the run's own files are written; the report can be rebuilt with alamp.report
        log.warning("the run report could not be written (%s: %s); rebuild it with `python -m alamp.report %s`",
                    type(exc).__name__, exc, path)  # fmt: skip


def _record_early_failure(directory: RunDir, status: str, error: str, steps: list[str]) -> None:
    """``run.json`` of a run stopped before its first stage: its status, reason and exit code."""
    directory.update(status=status, error=error, exit_code=int(exit_code_for_status(status)), next_steps=steps)


def _training_line(training: Mapping[str, Any]) -> str:
    if not training.get("trained"):
        return _one_line(training.get("error") or "training failed")
    best = training.get("best_eval_mean")
    parts = [f"{float(training.get('seconds') or 0):.1f} s", f"{training.get('steps') or 0} steps"]
    if best is not None:
        parts.append(f"best eval return {best:.4g} on the generated environment")
    return "  ".join(parts)


def grading_passed(verdict: Mapping[str, Any]) -> bool:
    """A trained run passes grading when its policy reaches the threshold; an untrained one (``train=false``)
    when its environment agrees with the reference (fidelity >= 0.99)."""
    if verdict.get("trained"):
        return bool(verdict.get("policy_success"))
    return verdict.get("fidelity") is not None and float(verdict["fidelity"]) >= 0.99


def _grading_line(verdict: Mapping[str, Any]) -> str:
    ref = verdict.get("reference") or verdict.get("task_id")
    parts = []
    if verdict.get("reference_return") is not None:
        threshold = verdict.get("threshold")
        parts.append(f"return {verdict['reference_return']:.4g} on the reference (threshold {threshold})")
    elif not verdict.get("coded"):
        parts.append("no environment to grade")
    elif not verdict.get("trained"):
        parts.append("not trained")
    if verdict.get("fidelity") is not None:
        parts.append(f"fidelity {verdict['fidelity']:.2f}")
    if verdict.get("coded") and verdict.get("fidelity") is None and verdict.get("messages"):
        # why there is no fidelity (interface mismatch, a reference whose state cannot be set, the llm route)
        reason = next((m for m in verdict["messages"] if "fidelity" in m or "interface" in m), None)
        if reason:
            parts.append(_one_line(reason, 200))
    return f"against {ref}: " + ", ".join(parts)


def _grade_reference(pred: Any, training: Mapping[str, Any] | None, reference: Any, *, seed: int) -> dict[str, Any]:
    """The verdict against a ``reference=`` environment (compiler route: with fidelity)."""
    from alamp.pipeline import _outcome
    from alamp.reference import grade_against_reference

    return grade_against_reference(reference=reference, outcome=_outcome(pred, dict(training) if training else None),
                                   seed=seed)


def _verdict_without_training(pred: Any) -> dict[str, Any]:
    """Without a task or a policy: modeled (every modelling stage produced output) and coded (env passed)."""
    modeled = pred.failed_stage is None or pred.failed_stage in ("env", "coding", "single_model_code")
    failed_level = None if pred.env_passed else ("modeling" if not modeled else "coding")
    return {
        "modeled": bool(modeled),
        "coded": bool(pred.env_passed),
        "trained": False,
        "policy_success": False,
        "failed_level": failed_level or "training",
        "graded": False,
    }


# --- the ending -------------------------------------------------------------------------------------------------


def next_steps(
    cfg: DictConfig, *, status: str, summary: Mapping[str, Any], run_path: Path, task: Any | None
) -> list[str]:
    """Concrete things to try after a run, as commands where possible (empty on success)."""
    given = f"task={task.id}" if task is not None else (
        f"description_file={cfg.description_file}" if cfg.get("description_file") else "")
    spec_file = run_path / "env_spec.json"
    with_spec = f"python -m alamp.run spec={spec_file}" + (f" task={task.id}" if task is not None else "")
    steps: list[str] = []
    if status == "lm_unavailable":
        backend = cfg.lm.get("backend")
        steps.append("the LM could not be reached: `make check` tests the embedded model; for a hosted one check its "
                     "key variable (conf/lm/<backend>.yaml api_key_env) and network" if backend == "local" else
                     f"the LM ({backend}) could not be reached: check its api_base, key and network, then resume")
        steps.append(f"python -m alamp.run resume={run_path}   (finished stages are not asked again)")
    elif status == "failed":
        failed = summary.get("failed_stage") or "an agent"
        steps.append(f"{failed} gave no usable answer: sample it more often (pipeline.stage_retries=3) or use a "
                     f"larger model (lm=openai, lm=vllm, or +pipeline.agent_lm.{failed}=openai for this agent only)")
        steps.append("state the problem more explicitly in the description (quantities with values, the observations "
                     "and actions in order, when an episode ends)")
    elif status == "env_failed":
        candidates = max(4, int(cfg.get("num_candidates", 1)) * 2)
        repairs = max(3, int(cfg.get("max_repairs", 2)) + 1)
        steps.append(f"python -m alamp.run {given} num_candidates={candidates} max_repairs={repairs}   "
                     "(more samples of the Env agent)")
        steps.append(f"a larger model for the environment only: python -m alamp.run {given} "
                     "+pipeline.agent_lm.env=openai   (or lm=openai for every agent)")
        if spec_file.exists():
            steps.append(f"fix the spec by hand: edit {spec_file} (the checker's message is in candidates/*/check.txt)"
                         f", then {with_spec}")
    elif status == "train_failed":
        steps.append("training failed (see run.json training.error); a smaller budget first: trainer=fast")
    elif status == "policy_failed":
        verdict = summary.get("verdict") or {}
        if verdict.get("fidelity") is not None and verdict["fidelity"] < 0.99:
            parts = verdict.get("fidelity_parts") or {}
            where = ", ".join(f"{k} {parts[k]:.2f}" for k in ("step", "reward", "termination") if k in parts)
            steps.append(f"the environment's dynamics disagree with the reference (fidelity {verdict['fidelity']:.2f}"
                         f"{'; ' + where if where else ''}): compare {spec_file} with the description, fix it, "
                         f"then {with_spec}")
        # Twice the budget this run used, on this run's environment: no agent is asked again.
        policy_config = (summary.get("training") or {}).get("policy_config") or {}
        used = policy_config.get("total_timesteps") or _select(cfg, "trainer.dqn.total_timesteps")
        retrain = with_spec if spec_file.exists() else f"python -m alamp.run {given}"
        more = f"trainer.dqn.total_timesteps={2 * int(used)}" if used else "a larger trainer.dqn.total_timesteps"
        steps.append(f"train longer or tune: {retrain} {more}   (or trainer=tune)")
        if not cfg.get("spec"):
            steps.append(f"other samples of the agents: python -m alamp.run {given} seed=1   "
                         "(or a larger model: lm=openai)")
    elif status == "ok" and not summary.get("training") and summary.get("env", {}).get("passed") and \
            not cfg.get("train", True):
        steps.append(f"train a policy on it: python -m alamp.run resume={run_path} train=true")
    elif status == "ok" and task is None and not cfg.get("reference") and summary.get("training"):
        steps.append("grade it against a simulator you have: add reference=<gymnasium id> (e.g. reference=CartPole-v1)")
    return steps


def ending_lines(summary: Mapping[str, Any], *, run_path: Path | str) -> list[str]:
    """The run's ending as plain lines: what passed, what failed and why, what to try, the status and exit code."""
    stages = summary.get("stages") or {}
    passed = [name for name, record in stages.items() if record.get("passed", record.get("status") == "ok")]
    lines = [f"run directory: {run_path}"]
    if passed:
        lines.append(f"passed: {', '.join(passed)}")
    env = summary.get("env") or {}
    failed_stage = summary.get("failed_stage")
    if failed_stage:
        reason = summary.get("error") or ""
        lines.append(f"failed: {failed_stage} — {_one_line(reason, 400)}")
    training = summary.get("training") or {}
    if training:
        lines.append(("trained: " if training.get("trained") else "failed: training — ") + _training_line(training))
    elif (summary.get("env") or {}).get("passed") and not failed_stage:
        lines.append("not trained (train=false)")
    verdict = summary.get("verdict") or {}
    if verdict.get("graded", True) and verdict.get("threshold") is not None:
        mark = "passed" if grading_passed(verdict) else "failed"
        lines.append(f"{mark}: grading {_grading_line(verdict)}")
    if env.get("attempts"):
        lines.append(f"candidates: {len(env['attempts'])} attempt(s) kept in {Path(run_path) / 'candidates'}")
    for step in summary.get("next_steps") or []:
        lines.append(f"next: {step}")
    status = summary.get("status", "?")
    lines.append(f"status: {status} (exit code {summary.get('exit_code', int(exit_code_for_status(status)))})")
    return lines


# --- the run directory's files ------------------------------------------------------------------------------------


def _failed_env_module(pred: Any, *, spec_written: bool) -> str:
    """A placeholder ``env.py`` for a run whose environment never passed the checks, with the last error.

    The error (agent-influenced text) is written as a string literal (``repr``), never inside a docstring.
    """
    last = (pred.attempts or [{}])[-1]
    error = str(last.get("error") or pred.error or "no candidate was produced")
    route = str(last.get("route", pred.coding_path))
    fix = ("The last assembled spec is in env_spec.json beside this file: edit it, then run\n"
           "python -m alamp.run spec=<this directory>/env_spec.json\n") if spec_written else ""
    return (
        '"""No environment passed alamp\'s checks in this run.\n\n'
        "Every candidate and its checker message is in candidates/ beside this file.\n" + fix + '"""\n\n'
        f"ROUTE = {route!r}\nLAST_CHECKER_ERROR = {error!r}\n\n"
        'raise SystemExit("this run produced no working environment; last checker error:\\n" + LAST_CHECKER_ERROR)\n'
    )


# How far each check gets: a candidate that failed a later check is the better one to hand a person.
_CHECK_ORDER = ("agent", "spec", "import", "construct", "check_env", "step", "spaces", "actions")


def _best_failed_spec(attempts: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The assembled spec of the candidate that got furthest (the last among equals), and its attempt."""
    best: tuple[int, int] | None = None
    chosen = None
    for index, attempt in enumerate(attempts):
        if not attempt.get("spec"):
            continue
        stage = attempt.get("stage_failed")
        rank = (_CHECK_ORDER.index(stage) if stage in _CHECK_ORDER else len(_CHECK_ORDER), index)
        if best is None or rank >= best:
            best, chosen = rank, attempt
    return (chosen.get("spec"), chosen) if chosen else (None, None)


def _candidate_name(attempt: Mapping[str, Any], taken: set[str]) -> str:
    name = f"{attempt.get('candidate', 0)}-{attempt.get('attempt', 0)}"
    if name in taken:
        name = f"{name}-{attempt.get('route') or 'other'}"
    while name in taken:
        name += "x"
    taken.add(name)
    return name


def write_candidates(directory: RunDir, attempts: list[dict[str, Any]]) -> list[str]:
    """Every candidate and attempt under ``candidates/<k>-<attempt>/``: ``attempt.json`` (route, checks, error),
    ``check.txt`` (the checker's message), ``env_spec.json`` (when the attempt carries its ``spec``) and
    ``env.py`` (when it carries generated ``code``). Returns the directory names, in attempt order."""
    names: list[str] = []
    taken: set[str] = set()
    for attempt in attempts:
        name = _candidate_name(attempt, taken)
        names.append(name)
        base = f"candidates/{name}"
        record = {k: v for k, v in attempt.items() if k not in ("spec", "code")}
        directory.write_json(f"{base}/attempt.json", record)
        message = "passed every check\n" if attempt.get("passed") else (
            f"failed the {attempt.get('stage_failed') or '?'} check:\n\n{attempt.get('error') or ''}\n")
        directory.write_text(f"{base}/check.txt", message)
        if attempt.get("spec"):
            directory.write_json(f"{base}/env_spec.json", attempt["spec"])
        if attempt.get("code"):
            directory.write_text(f"{base}/env.py", str(attempt["code"]))
    return names


def _write_artifacts(directory: RunDir, pred: Any, *, reward_threshold: float | None = None) -> dict[str, Any]:
    """mdp.md, env.py, env_spec.json, candidates/ and the run summary's stage, route and LM fields."""
    attempts = list(pred.attempts or [])
    if pred.mdp is not None:
        directory.write_text("mdp.md", pred.mdp.to_latex())
    spec_source = None
    if pred.env_spec is not None:
        directory.write_json("env_spec.json", pred.env_spec)
        spec_source = "passed" if pred.env_passed else "assembled"
    else:
        best, attempt = _best_failed_spec(attempts)
        if best is not None:
            directory.write_json("env_spec.json", best)
            spec_source = f"candidate {attempt.get('candidate', 0)}-{attempt.get('attempt', 0)} " \
                          f"(failed the {attempt.get('stage_failed')} check)"
    code = pred.code
    if pred.env_passed and pred.coding_path == "compiler" and pred.env_spec is not None:
        from alamp.spec import emit_python

        try:  # re-emitted with the threshold the run is graded against, so env.py registers it
            code = emit_python(pred.env_spec, reward_threshold=reward_threshold)
        except Exception as exc:  # the program's own emission stands
            log.warning("could not emit env.py with the reward threshold: %s", exc)
    if code:
        directory.write_text("env.py", code)
    elif pred.mdp is not None or attempts:
        # The chain reached the environment stage but nothing passed: env.py says so rather than going missing.
        directory.write_text("env.py", _failed_env_module(pred, spec_written=spec_source is not None))
    candidates = write_candidates(directory, attempts) if attempts else []
    stages = {}
    for name, record in pred.stages.items():
        failure = stage_failure(name, record)
        stages[name] = {**{k: v for k, v in record.items() if k != "output"}, "passed": failure is None,
                        "failure": failure}  # fmt: skip
    return {
        "stages": stages,
        "stage_status": pred.status,
        "failed_stage": pred.failed_stage,
        "error": pred.error,
        "env": {
            "passed": pred.env_passed,
            "coding_path": pred.coding_path,
            "report": pred.env_report,
            "attempts": [{k: v for k, v in a.items() if k not in ("spec", "code")} for a in attempts],
            "candidates": candidates,
            "spec_file": "env_spec.json" if spec_source else None,
            "spec_source": spec_source,
            "repairs": max(0, len(attempts) - 1) if attempts else 0,
            # Group sizes of agreeing candidates and the chosen one (alamp.consensus); None when nothing passed.
            "consensus": getattr(pred, "consensus", None),
            "fired": _chosen_fired(pred),
            "notes": pred.notes,
        },
        "lm": _lm_totals(pred.stages),
    }


# --- the command ----------------------------------------------------------------------------------------------------


def _chosen_fired(pred: Any) -> dict[str, int]:
    """The assembly passes that rewrote the environment the run kept (its last passing attempt, else its last)."""
    attempts = [a for a in (pred.attempts or []) if "fired" in a]
    passing = [a for a in attempts if a.get("passed")]
    consensus = getattr(pred, "consensus", None) or {}
    chosen = [a for a in passing if a.get("candidate") == consensus.get("chosen")] or passing or attempts
    return dict(chosen[-1]["fired"]) if chosen else {}


def _hydra_output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def _check_resume_argument(argv: list[str]) -> None:
    """``resume=DIR`` on the command line must name an existing run directory *before* Hydra creates DIR."""
    for arg in argv:
        if arg.startswith("resume="):
            value = arg.split("=", 1)[1].strip("'\"")
            path = Path(value).expanduser()
            if value and value.lower() not in ("null", "none") and not (path / "run.json").is_file():
                reason = "no such directory" if not path.is_dir() else "no run.json there"
                print(f"error: resume={value}: {reason}; pass the directory of a run (runs/<time>_<label>)",
                      file=sys.stderr)
                sys.exit(int(ExitCode.BAD_INPUT))


def _print_ending(summary: Mapping[str, Any], path: Path | str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False)
    ok = summary.get("status") == "ok"
    for line in ending_lines(summary, run_path=path):
        style = "green" if ok and line.startswith("status") else "red" if line.startswith(("failed", "status")) else ""
        console.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line))


def _hydra_entry() -> None:
    import hydra

    from alamp.artifact import CorruptArtifactError
    from alamp.description_check import DescriptionError
    from alamp.run_dir import CorruptRunFileError

    _check_resume_argument(sys.argv[1:])
    codes: list[int] = []

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="run")
    def _main(cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task)
        try:
            summary = run(cfg, overrides=overrides)
        except (RunInputError, DescriptionError, CorruptRunFileError, CorruptArtifactError) as exc:
            # Bad input: the message names the file or option and what to do.
            print(f"error: {exc}", file=sys.stderr)
            codes.append(int(ExitCode.BAD_INPUT))
            return
        except Exception as exc:
            from alamp.lm.errors import LMSetupError

            if not isinstance(exc, LMSetupError):
                raise
            print(f"error: the LM could not be set up: {exc}", file=sys.stderr)
            codes.append(int(ExitCode.LM_UNAVAILABLE))
            return
        _print_ending(summary, cfg.get("resume") or _hydra_output_dir())
        codes.append(int(summary.get("exit_code", exit_code_for_status(summary.get("status", "")))))

    _main()
    failed = [code for code in codes if code]
    sys.exit(failed[0] if failed else 0)


def main() -> None:
    """Console entry point (``alamp-run``)."""
    _hydra_entry()


if __name__ == "__main__":
    main()
