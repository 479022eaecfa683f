"""``python -m alamp.run``: a description in; the formal MDP, an environment, a policy and a verdict out.

Examples::

    python -m alamp.run task=cartpole                          # A-LAMP on a task of data/tasks/
    python -m alamp.run description_file=my_problem.txt        # your own description (no grading)
    python -m alamp.run task=cartpole pipeline=single_model    # the one-call baseline
    python -m alamp.run task=cartpole coding=llm max_repairs=3 # the Coding agent's route
    python -m alamp.run task=cartpole program=artifacts/alamp_local.json   # a compiled program
    python -m alamp.run resume=runs/20250101-120000_cartpole   # continue a killed run, no repeated LM calls

Everything a run produces goes into its directory (see ``alamp.run_dir``). The run is strictly sequential: LM
stages first, then training; the local LLM server is stopped before training so the two never share the CPU.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dspy
from omegaconf import DictConfig, OmegaConf

from alamp.paths import conf_dir, project_root
from alamp.program import ALAMP, ProgramSettings, SingleModelBaseline
from alamp.run_dir import RunDir, register_resolvers
from alamp.sandbox import SandboxLimits

__all__ = [
    "main",
    "run",
    "RunInputError",
    "build_program",
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
    the pipeline's shipped ``default_program`` when that file exists (else the zero-shot program)."""
    value = cfg.get("program")
    if value is None or str(value).lower() in ("", "none", "null", "zero_shot"):
        return None
    if str(value).lower() == "auto":
        default = cfg.pipeline.get("default_program")
        if not default:
            return None
        path = Path(default)
        path = path if path.is_absolute() else project_root() / path
        return path if path.exists() else None
    return Path(str(value))


# --- input ------------------------------------------------------------------------------------------------------


def resolve_input(cfg: DictConfig) -> tuple[str, Any | None, str]:
    """The description, the task (or None) and a label for the run.

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
        path = Path(str(cfg.description_file)).expanduser()
        if not path.is_file():
            raise RunInputError(f"description_file={path} does not exist; give the path of a text file")
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise RunInputError(f"description_file={path} is empty; write the decision problem in it")
        return text + "\n", None, path.stem
    raise RunInputError("no input: pass task=<id> (see data/tasks/) or description_file=PATH")


# --- progress ---------------------------------------------------------------------------------------------------


class _Progress:
    """Per-stage progress on the terminal (rich): a spinner while a stage runs, one line when it ends."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, quiet=not enabled)
        self._status: Any = None

    def start(self, stage: str) -> None:
        self.stop()
        self._status = self.console.status(f"[bold]{stage}[/bold] …")
        self._status.start()

    def end(self, stage: str, record: Mapping[str, Any]) -> None:
        self.stop()
        lm = record.get("lm") or {}
        mark = "[green]✓[/green]" if record.get("status") == "ok" else "[red]✗[/red]"
        tokens = int(lm.get("prompt_tokens", 0)) + int(lm.get("completion_tokens", 0))
        self.console.print(
            f"{mark} {stage:<18} {record.get('seconds', 0):7.1f} s  {lm.get('calls', 0)} LM call(s)  {tokens} tokens"
            + (f"  [red]{str(record.get('error'))[:200]}[/red]" if record.get("error") else "")
        )

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


def run(cfg: DictConfig, *, run_dir: Path | None = None, lm: dspy.LM | None = None) -> dict[str, Any]:
    """Run the whole pipeline as configured and return the run summary (also written to ``run.json``).

    Args:
        cfg: The composed config (``conf/run.yaml``).
        run_dir: Where to write (default: ``resume``, else Hydra's output directory).
        lm: An LM to use instead of configuring one from ``cfg.lm`` (tests pass a scripted fake).

    Raises:
        RunInputError: The input is unusable (the message says how to fix it).
    """
    started = time.perf_counter()
    description, task, label = resolve_input(cfg)
    path = Path(cfg.resume) if cfg.get("resume") else run_dir or _hydra_output_dir()
    progress = _Progress(bool(cfg.get("progress", True)))
    directory = RunDir(path, on_stage_start=progress.start, on_stage_end=progress.end)
    resumed = bool(directory.completed_stages())
    if resumed:
        progress.note(f"resuming {path}: completed stages {', '.join(directory.completed_stages())}")
    directory.write_text("description.txt", description)
    directory.write_text("config.yaml", OmegaConf.to_yaml(cfg, resolve=True))

    program = build_program(cfg)
    from alamp.lm.cache import configure_lm_cache

    configure_lm_cache(cfg.get("lm_cache"))
    active_lm = lm if lm is not None else _configure_lm(cfg)
    if lm is not None:
        dspy.configure(lm=lm)
    directory.update(
        task=task.id if task is not None else None,
        label=label,
        pipeline=cfg.pipeline.name,
        coding=cfg.coding.name,
        seed=int(cfg.seed),
        program=str(resolve_program_path(cfg) or "") or None,
        lm_config=_lm_description(cfg, active_lm),
        status="running",
        resumed=resumed,
    )

    from alamp.tracking import Tracker

    with Tracker.start(
        cfg.get("logger"),
        config=OmegaConf.to_container(cfg, resolve=True),
        job_type="run",
        name=f"{label}-{cfg.pipeline.name}",
        directory=path,
    ) as tracker:
        pred = program(description=description, name=label, recorder=directory)
        progress.stop()
        summary = _write_artifacts(directory, pred)
        tracker.log_stage_outputs(pred.stages)

        if pred.env_passed and cfg.get("train", True):
            if cfg.get("stop_lm_before_training", True) and lm is None:
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
            progress.stop()
            summary["training"] = outcome.get("training")
            summary["verdict"] = outcome.get("verdict")
            if outcome.get("training", {}).get("curve"):
                tracker.log_training_curve(outcome["training"]["curve"])
            if outcome.get("verdict"):
                tracker.log_verdict(outcome["verdict"])
            status = outcome.get("status", "ok")
        else:
            status = pred.status
            if task is not None:
                from alamp.pipeline import grade_prediction

                summary["verdict"] = grade_prediction(pred=pred, task=task)
            else:
                summary["verdict"] = _verdict_without_training(pred)
        summary.update(status=status, wall_time_s=round(time.perf_counter() - started, 3))
        directory.update(**summary)
    progress.note(f"run directory: {path}  status: {status}")
    return directory.summary


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


def _failed_env_module(pred: Any) -> str:
    """A placeholder ``env.py`` for a run whose environment never passed the checks, with the last error."""
    last = (pred.attempts or [{}])[-1]
    error = str(last.get("error") or pred.error or "no candidate was produced").replace('"""', "'''")
    route = last.get("route", pred.coding_path)
    return (
        f'"""No environment passed alamp\'s checks in this run (route: {route}).\n\n'
        f"Last checker error (the repair step saw it too):\n\n{error}\n"
        '"""\n\nraise SystemExit("this run produced no working environment; see run.json and stages/env.json")\n'
    )


def _write_artifacts(directory: RunDir, pred: Any) -> dict[str, Any]:
    """mdp.md, env.py and the run summary's stage, route and LM fields."""
    if pred.mdp is not None:
        directory.write_text("mdp.md", pred.mdp.to_latex())
    if pred.code:
        directory.write_text("env.py", pred.code)
    elif pred.mdp is not None:
        # The chain reached the environment stage but nothing passed: env.py says so rather than going missing.
        directory.write_text("env.py", _failed_env_module(pred))
    if pred.env_spec is not None:
        directory.write_json("env_spec.json", pred.env_spec)
    stages = {name: {k: v for k, v in record.items() if k != "output"} for name, record in pred.stages.items()}
    return {
        "stages": stages,
        "stage_status": pred.status,
        "failed_stage": pred.failed_stage,
        "error": pred.error,
        "env": {
            "passed": pred.env_passed,
            "coding_path": pred.coding_path,
            "report": pred.env_report,
            "attempts": pred.attempts,
            "repairs": max(0, len(pred.attempts) - 1) if pred.attempts else 0,
            "notes": pred.notes,
        },
        "lm": _lm_totals(pred.stages),
    }


def _hydra_output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def _hydra_entry() -> None:
    import hydra

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="run")
    def _main(cfg: DictConfig) -> None:
        try:
            run(cfg)
        except RunInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    _main()


def main() -> None:
    """Console entry point (``alamp-run``)."""
    _hydra_entry()


if __name__ == "__main__":
    main()
