"""The A-LAMP program: the agents composed in the paper's order, and the single-model baseline.

``ALAMP`` runs Parameter -> Objective -> Variable -> Constraint -> Modeling -> SAR, then builds the environment
by one of three routes (``coding``):

- ``compiler`` (default): the Env agent writes the update equations, ``alamp.assemble`` builds the spec from the
  typed outputs, ``alamp.spec`` compiles it (no generated code runs) and the executor checks it; spec errors go back
  to the Env agent as feedback, at most ``max_repairs`` times;
- ``llm``: the Coding agent writes a gymnasium class, the executor checks it in a sandboxed child, the Repair agent
  fixes it from the error text, at most ``max_repairs`` times;
- ``compiler_then_llm``: the compiler route first, the Coding agent only when it fails.

``num_candidates`` independent samples (temperature ``candidate_temperature``, distinct DSPy ``rollout_id``) are
tried in turn, each with its own repair budget; the first to pass the checks wins.

Both programs return a ``dspy.Prediction`` with the same fields (see ``PREDICTION_FIELDS``) so that one metric
grades both. Module attribute names are stable (saved programs depend on them).

Stages can be recorded and resumed: pass a ``StageRecorder`` (``alamp.run_dir.RunDir`` is one) as ``recorder=``;
a stage it already holds is loaded instead of calling the LM again.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import dspy
from pydantic import TypeAdapter

from alamp.assemble import Assembly, AssemblyError, assemble, expand_parameters, parse_assignments
from alamp.consensus import Behaviour, behaviour, choose
from alamp.description import Description
from alamp.executor import actions_change_anything, check_code, check_env_factory
from alamp.interface import align_sar, check_sar
from alamp.lm.adapter import EXPRESSION_NAMES_KEY
from alamp.nearest_demos import nearest_demos
from alamp.parameter_check import MIN_COVERAGE, number_coverage
from alamp.sandbox import SandboxLimits
from alamp.schema import (
    Assignment,
    Constraint,
    EnvSpec,
    MDPModel,
    Objective,
    Parameter,
    SARSpec,
    Variable,
)
from alamp.schema._names import to_identifier
from alamp.schema.agents import ExecutionReport
from alamp.signatures import (
    CodingSignature,
    ConstraintSignature,
    EnvItemSignature,
    EnvSignature,
    ModelingSignature,
    ObjectiveSignature,
    ParameterSignature,
    RepairSignature,
    SARSignature,
    SingleModelCodeSignature,
    SingleModelSignature,
    SymbolValueSignature,
    VariableSignature,
)
from alamp.symbol_values import (
    NO_CONSTANT,
    constant_lines,
    symbol_constant,
    symbol_question,
    undefined_text_symbols,
)
from alamp.text_limits import cap_text
from alamp.text_names import adopt_text_symbols
from alamp.text_step import updated_name, with_text_step

__all__ = [
    "ALAMP",
    "SingleModelBaseline",
    "ProgramSettings",
    "StageRecorder",
    "MemoryRecorder",
    "StageFailed",
    "AGENT_NAMES",
    "PREDICTION_FIELDS",
    "Coding",
    "extract_code",
]

Coding = Literal["compiler", "llm", "compiler_then_llm"]

#: Attribute names of the agents (stable: saved programs depend on them).
AGENT_NAMES = (
    "parameter", "objective", "variable", "constraint", "modeling", "sar", "symbol_value", "env", "env_item", "coding",
    "repair",
)  # fmt: skip

#: Fields of the prediction both programs return.
PREDICTION_FIELDS = (
    "parameters", "objectives", "variables", "constraints", "mdp", "sar", "updates",
    "env_spec", "code", "coding_path", "env_passed", "env_report", "attempts", "consensus", "notes",
    "status", "failed_stage", "error", "stages",
)  # fmt: skip

# How each stored output field is typed, for writing stage files and reading them back on resume.
_FIELD_TYPES: dict[str, Any] = {
    "parameters": list[Parameter],
    "objectives": list[Objective],
    "variables": list[Variable],
    "constraints": list[Constraint],
    "mdp": MDPModel,
    "sar": SARSpec,
    "updates": list[Assignment] | None,
    "env_spec": EnvSpec | None,
    "env_report": ExecutionReport | None,
    "code": str | None,
    "coding_path": str | None,
    "env_passed": bool,
    "attempts": list[dict[str, Any]],
    "consensus": dict[str, Any] | None,
    "notes": list[str],
}
_ADAPTERS = {name: TypeAdapter(tp) for name, tp in _FIELD_TYPES.items()}


def dump_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    """Typed stage outputs -> plain Python data (JSON-ready; infinities stay floats)."""
    return {k: (_ADAPTERS[k].dump_python(v) if k in _ADAPTERS else v) for k, v in outputs.items()}


def load_outputs(data: dict[str, Any]) -> dict[str, Any]:
    """Plain data from a stage file -> typed stage outputs (validated again)."""
    return {k: (_ADAPTERS[k].validate_python(v) if k in _ADAPTERS else v) for k, v in data.items()}


class StageRecorder(Protocol):
    """Where stage records go (a run directory, memory) and where finished ones are found on resume."""

    def load_stage(self, stage: str) -> dict[str, Any] | None:
        """The record of a completed stage, or None to run it."""

    def save_stage(self, stage: str, record: dict[str, Any]) -> None:
        """Keep the record of a stage that just finished (ok or failed)."""

    def stage_started(self, stage: str) -> None:
        """A stage is about to call the LM (for progress display)."""


@dataclass
class MemoryRecorder:
    """Keeps stage records in memory (the default; nothing is resumed)."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def load_stage(self, stage: str) -> dict[str, Any] | None:
        return None

    def save_stage(self, stage: str, record: dict[str, Any]) -> None:
        self.records[stage] = record

    def stage_started(self, stage: str) -> None:
        return None


class StageFailed(RuntimeError):
    """An agent produced no valid output; the chain stops there."""

    def __init__(self, stage: str, error: str) -> None:
        self.stage, self.error = stage, error
        super().__init__(f"stage {stage!r} failed: {error}")


@dataclass
class ProgramSettings:
    """Knobs of the program (``conf/pipeline/*.yaml`` and ``conf/coding/*.yaml``).

    Attributes:
        coding: Which route builds the environment.
        max_repairs: Repair rounds per candidate after its first attempt.
        num_candidates: Independent samples of the Env/Coding agent, tried in turn until one passes.
        candidate_temperature: Sampling temperature of candidates after the first.
        stage_retries: Extra tries of an upstream agent whose output does not parse or validate.
        check_steps: Random steps the executor runs.
        seed: Seed of the executor's checks.
        sampling_seed: 0: the first call of every agent is as configured (greedy on the default LM), so a run is
            reproducible from DSPy's cache. Any other value makes the run an independent replicate: every agent
            call samples at ``sampling_temperature`` with this seed (experiments set it from ``seed``).
        sampling_temperature: Temperature of a replicate's first calls.
        clip_state: Assembled state variables with two finite bounds are clipped to them.
        plain_math: The agents read the description with its typeset mathematics in plain form (``θ̇`` ->
            ``theta_dot``, ``·`` -> ``*``; ``alamp.mathtext``).
        env_budget_s: Seconds after which the environment stage starts no further sample or repair once some
            candidate passes (None: no limit).
        env_give_up_s: Seconds after which the environment stage starts no further sample or repair while no
            candidate passes: the stage fails then (None: the whole ``num_candidates`` x ``max_repairs`` budget).
        sandbox: Limits of the sandboxed checks of generated code.
    """

    coding: Coding = "compiler"
    max_repairs: int = 2
    num_candidates: int = 1
    candidate_temperature: float = 0.7
    stage_retries: int = 1
    check_steps: int = 200
    seed: int = 0
    sampling_seed: int = 0
    sampling_temperature: float = 0.5
    clip_state: bool = True
    plain_math: bool = True
    env_budget_s: float | None = None
    env_give_up_s: float | None = None
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        if self.coding not in ("compiler", "llm", "compiler_then_llm"):
            raise ValueError(f"coding={self.coding!r}; use one of compiler, llm, compiler_then_llm")
        if self.max_repairs < 0 or self.num_candidates < 1:
            raise ValueError(
                f"max_repairs={self.max_repairs}, num_candidates={self.num_candidates}: "
                "max_repairs must be >= 0 and num_candidates >= 1"
            )
        for knob in ("env_budget_s", "env_give_up_s"):
            if (value := getattr(self, knob)) is not None and value < 0:
                raise ValueError(f"{knob}={value}: use a number of seconds >= 0, or null for no limit")


_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def extract_code(text: str) -> str:
    """The Python inside Markdown fences if there are any (the longest block), else the text as is."""
    blocks = _FENCE.findall(text or "")
    return (max(blocks, key=len) if blocks else (text or "")).strip() + "\n"


def _spec_function_names() -> frozenset[str]:
    from alamp.spec.functions import function_names

    return frozenset(function_names())


_FUNCTION_NAMES = _spec_function_names()
# At most this many missing names of one Env answer are asked for (each is one short LM call).
_MAX_ITEMS_ASKED_AGAIN = 3


def _names_in(expr: str) -> set[str]:
    """The identifiers an expression mentions (functions included; an unparsable one: its word-like tokens)."""
    import ast

    try:
        return {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}
    except (SyntaxError, ValueError, RecursionError):
        return set(re.findall(r"[A-Za-z_]\w*", expr))


def _parsed_names(expr: str) -> set[str]:
    """The quantities a parsable expression reads: names, not the functions it calls (``clamp`` in ``clamp(u, 0, 1)``
    is no quantity to define; tank_level, dev), and nothing for prose, which is not the agents' to define."""
    import ast

    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return set()
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in callees}


def _lm_usage(entries: list[dict[str, Any]]) -> dict[str, int]:
    usage = {"calls": len(entries), "prompt_tokens": 0, "completion_tokens": 0, "cache_hits": 0}
    for entry in entries:
        used = entry.get("usage") or {}
        usage["prompt_tokens"] += int(used.get("prompt_tokens") or 0)
        usage["completion_tokens"] += int(used.get("completion_tokens") or 0)
        usage["cache_hits"] += int(bool(getattr(entry.get("response"), "cache_hit", False)))
    return usage


def _no_action_effect(spec: Any) -> str:
    """The repair message for an environment in which the chosen action changes nothing."""
    set_by_actions = sorted({u.target for a in spec.actions for u in a.updates})
    names = [a.name for a in spec.actions]
    hint = (f"the actions set {', '.join(set_by_actions)}, but the updates that move the state must read them"
            if set_by_actions else
            f"no action sets anything, so the updates must read which action was chosen: each action's name "
            f"({', '.join(names)}) is 1 when that action is chosen and 0 otherwise, e.g. "
            f"queue = queue - 2 * {names[0]}; the built-in `action` is the chosen index 0..{len(names) - 1}")
    return (
        "the actions have no effect: from every sampled state, each action gives the same next state and reward. "
        f"Write the updates so that the chosen action changes the state ({hint}; e.g. "
        "velocity = velocity + force * dt)."
    )  # fmt: skip


def _text_form_label(candidate: int) -> str:
    """The label of the form of answer ``candidate`` with the text's own update lines (``"0t"``)."""
    return f"{candidate}t"


def _is_text_form(label: Any) -> bool:
    """Whether a candidate's label is a ``_text_form_label``."""
    return isinstance(label, str) and label.endswith("t")


def _agent_failure(route: str, candidate: int, attempt: int, error: str) -> dict[str, Any]:
    """The attempt record of an agent whose answer could not be read (nothing was checked)."""
    return {"route": route, "candidate": candidate, "attempt": attempt, "passed": False, "stage_failed": "agent",
            "error": error}  # fmt: skip


def _stamp_elapsed(attempts: list[dict[str, Any]], started: float) -> None:
    """Record on each new attempt the seconds since the stage started (what ``env_give_up_s`` is chosen from)."""
    for record in reversed(attempts):
        if "elapsed_s" in record:
            break
        record["elapsed_s"] = round(time.monotonic() - started, 1)


@dataclass
class _Built:
    """One candidate environment: its assembly (None if assembly failed), the checker's report, the emitted
    ``env.py`` and the compiled factory (both only when it passed)."""

    report: ExecutionReport
    assembly: Assembly | None = None
    code: str | None = None
    make_env: Callable[[], Any] | None = None
    _behaviour: Behaviour | None = None

    def behaviour(self, *, seed: int) -> Behaviour:
        """Its behaviour on the consensus probes (computed once)."""
        if self._behaviour is None:
            assert self.make_env is not None, "only a candidate that passed has a behaviour"
            self._behaviour = behaviour(self.make_env, seed=seed)
        return self._behaviour

    def attempt(self, *, candidate: int, attempt: int) -> dict[str, Any]:
        """The attempt record kept in the prediction (and under the run directory): verdict, error and spec."""
        return {
            "route": "compiler",
            "candidate": candidate,
            "attempt": attempt,
            "passed": self.report.passed,
            "stage_failed": self.report.stage_failed,
            "error": self.report.error,
            "spec": self.assembly.spec.model_dump() if self.assembly is not None else None,
            # Which assembly passes rewrote this candidate (alamp.assembly; counted by alamp.assembly.census).
            "fired": dict(self.assembly.fired) if self.assembly is not None else {},
        }


class _Pipeline(dspy.Module):
    """What both programs share: stage bookkeeping, the environment routes, the candidate and repair loops."""

    def __init__(self, settings: ProgramSettings | None = None, lms: dict[str, dspy.LM] | None = None) -> None:
        super().__init__()
        self.settings = settings or ProgramSettings()
        self._agent_lms = dict(lms or {})

    def _apply_lms(self) -> None:
        """Per-agent LM overrides (e.g. a larger model for Coding only)."""
        for agent, lm in self._agent_lms.items():
            predictor = getattr(self, agent, None)
            if not isinstance(predictor, dspy.Predict):
                raise ValueError(f"no agent named {agent!r} to give an LM to; agents: {', '.join(AGENT_NAMES)}")
            predictor.lm = lm

    # --- stage bookkeeping -------------------------------------------------------------------------------------

    def _predictors(self, names: tuple[str, ...]) -> list[dspy.Predict]:
        return [getattr(self, n) for n in names if isinstance(getattr(self, n, None), dspy.Predict)]

    def _stage(
        self,
        recorder: StageRecorder,
        stage: str,
        agents: tuple[str, ...],
        run: Callable[[], dict[str, Any]],
        records: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        """Run one stage (or load it from the recorder), timing it and counting its LM calls and tokens."""
        stored = recorder.load_stage(stage)
        if stored is not None and stored.get("status") == "ok":
            record = dict(stored, resumed=True)
            records[stage] = record
            return load_outputs(stored["output"])
        recorder.stage_started(stage)
        predictors = self._predictors(agents)
        before = [len(p.history) for p in predictors]
        start = time.perf_counter()
        status, error, outputs = "ok", "", {}
        try:
            outputs = run()
        except StageFailed as exc:
            status, error = "failed", exc.error
        except Exception as exc:  # an agent's output that does not parse or validate is a finding, not a crash
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        entries = [e for p, n in zip(predictors, before, strict=True) for e in p.history[n:]]
        record = {
            "stage": stage,
            "status": status,
            "error": error,
            "seconds": round(time.perf_counter() - start, 3),
            "lm": _lm_usage(entries),
            "lm_by_agent": {
                name: _lm_usage(p.history[n:])
                for name, p, n in zip(
                    [a for a in agents if isinstance(getattr(self, a, None), dspy.Predict)],
                    predictors,
                    before,
                    strict=True,
                )
            },
            "output": dump_outputs(outputs),
        }
        records[stage] = record
        recorder.save_stage(stage, record)
        if status != "ok":
            raise StageFailed(stage, error)
        return outputs

    def _read(self, description: str) -> Description:
        """The description, read once for the whole run (``alamp.description``)."""
        return Description.read(description, plain=self.settings.plain_math)

    def _sample_config(self, candidate: int, attempt: int = 0) -> dict[str, Any]:
        """Distinct samples past the LM cache: the first try as configured, later ones sampled.

        With ``sampling_seed`` set, every call is a sample of that replicate (``rollout_id`` keeps replicates apart
        in DSPy's cache; ``seed`` is passed on, but llama_cpp.server did not reproduce samples from it when measured,
        so a replicate is reproducible from DSPy's cache only).
        """
        replicate = self.settings.sampling_seed
        if replicate:
            rollout = replicate * 1_000_000 + candidate * 1000 + attempt
            temperature = self.settings.sampling_temperature if candidate == 0 else self.settings.candidate_temperature
            return {"rollout_id": rollout, "temperature": temperature, "seed": rollout}
        if candidate == 0 and attempt == 0:
            return {}
        return {"rollout_id": candidate * 1000 + attempt, "temperature": self.settings.candidate_temperature}

    def _call_with_retries(self, predictor: dspy.Predict, **inputs: Any) -> dspy.Prediction:
        """Call an agent; on an output that does not parse or validate, sample again (``stage_retries``)."""
        last: Exception | None = None
        for attempt in range(1 + self.settings.stage_retries):
            try:
                return predictor(**inputs, config=self._sample_config(0, attempt))
            except Exception as exc:  # dspy raises AdapterParseError / ValidationError-derived errors here
                last = exc
        assert last is not None
        raise last

    # --- environment routes ------------------------------------------------------------------------------------

    def _check_spec(self, assembly: Assembly, sar: SARSpec) -> _Built:
        """Compile and check an assembled spec in-process (compiled once: the consensus steps the same factory)."""
        from alamp.spec import SpecError, compile_spec, emit_python

        start = time.perf_counter()
        try:
            compiled = compile_spec(assembly.spec)
        except SpecError as exc:
            problems = "\n".join(f"- {p}" for p in exc.problems)
            hint = "\nYou may define a missing name with an update; use only the names listed."
            report = ExecutionReport(
                passed=False, stage_failed="spec", error=problems + hint, seconds=time.perf_counter() - start
            )
            return _Built(assembly=assembly, report=report)
        report = check_env_factory(
            compiled.make_env, sar=sar, n_steps=self.settings.check_steps, seed=self.settings.seed
        )
        if report.passed and not actions_change_anything(compiled.make_env, seed=self.settings.seed):
            report = ExecutionReport(
                passed=False, stage_failed="actions", error=_no_action_effect(assembly.spec), seconds=report.seconds
            )
        code = None
        if report.passed:
            try:
                code = emit_python(assembly.spec)
            except Exception as exc:  # the env works; a failing emitter must not lose it
                code = f"# emit_python failed: {type(exc).__name__}: {exc}\n"
        return _Built(assembly=assembly, report=report, code=code, make_env=compiled.make_env)

    def _build_from_updates(
        self, up: dict[str, Any], updates: list[Assignment], name: str | None, text: Description
    ) -> _Built:
        try:
            assembly = assemble(
                parameters=up["parameters"],
                variables=up["variables"],
                constraints=up["constraints"],
                mdp=up["mdp"],
                sar=up["sar"],
                updates=updates,
                name=name,
                clip_state=self.settings.clip_state,
                text_constants=text.constants,
                text_action_symbols=set(text.action_symbols),
                text_formulas=text.formulas,
                text_random_ranges=text.random_ranges,
                text_draws=text.step.draws,
                text_no_early_end=text.no_early_end,
                text_reward=text.reward,
                text_action_effects=text.action_effects,
                objectives=up.get("objectives") or (),
            )
        except AssemblyError as exc:
            return _Built(report=ExecutionReport(passed=False, stage_failed="spec", error="\n".join(exc.problems)))
        return self._check_spec(assembly, up["sar"])

    def _code_loop(
        self, first_code: Callable[[int], str], sar: SARSpec, attempts: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The llm route: candidates of generated code, each checked in the sandbox and repaired from its error."""
        for candidate in range(self.settings.num_candidates):
            try:
                code = extract_code(first_code(candidate))
            except Exception as exc:
                attempts.append(_agent_failure("llm", candidate, 0, f"{type(exc).__name__}: {exc}"))
                continue
            result = self._repair_loop(code, candidate=candidate, sar=sar, attempts=attempts)
            if result is not None:
                return result
        return None

    def _repair_loop(
        self, code: str, *, candidate: int, sar: SARSpec, attempts: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Check one candidate's code in the sandbox; on failure hand the error to Repair (``max_repairs`` times)."""
        for attempt in range(1 + self.settings.max_repairs):
            report = check_code(
                code, sar=sar, n_steps=self.settings.check_steps, seed=self.settings.seed, limits=self.settings.sandbox
            )
            attempts.append(
                {
                    "route": "llm",
                    "candidate": candidate,
                    "attempt": attempt,
                    "passed": report.passed,
                    "stage_failed": report.stage_failed,
                    "error": report.error,
                }
            )
            if report.passed:
                return {"code": code, "env_report": report, "env_passed": True, "coding_path": "llm"}
            if attempt == self.settings.max_repairs:
                break
            try:
                error = cap_text(report.error)  # a generated program's error text is untrusted and unbounded
                fixed = self.repair(code=code, error=error, config=self._sample_config(candidate, attempt + 1))
                code = extract_code(fixed.fixed_code)
            except Exception as exc:
                attempts.append(_agent_failure("llm", candidate, attempt + 1, f"{type(exc).__name__}: {exc}"))
                break
        return None

    def _try_text_step(
        self,
        text: Description,
        up: dict[str, Any],
        constants: list[Parameter],
        updates: list[Assignment],
        *,
        name: str | None,
        label: str,
        attempt: int,
        tried: set[tuple[tuple[str, str], ...]],
        attempts: list[dict[str, Any]],
        passing: list[tuple[Any, list[Assignment], _Built]],
    ) -> bool:
        """Check the candidate that takes the text's own update lines for the states it updates (``alamp.text_step``).

        It is checked once per distinct form, recorded as an attempt of candidate ``label`` and, when it passes,
        joins the consensus ahead of the agent's answer it came from (a tie goes to the text). Returns whether it
        passed.
        """
        state = [v.name for v in up["variables"] if v.role == "state"]
        defined = {c.name for c in constants} | {v.name for v in up["variables"]}
        candidate = with_text_step(updates, step=text.step, state=state, defined=defined)
        if candidate is None:
            return False
        key = tuple((u.target, u.expr) for u in candidate)
        if key in tried:
            return False
        tried.add(key)
        built = self._build_from_updates(up, candidate, name, text)
        attempts.append({**built.attempt(candidate=label, attempt=attempt), "form": "text"})
        if built.report.passed and built.assembly is not None:
            passing.append((label, candidate, built))
            return True
        return False

    def _over_budget(self, started: float, passing: list[Any], notes: list[str], *, tried: bool = True) -> bool:
        """Whether the environment stage should start nothing more.

        Either some candidate passes and ``env_budget_s`` is spent (elevator, dev: 18 Env calls, 7.7 minutes, for two
        disagreeing passing candidates), or none passes and ``env_give_up_s`` is spent: a stage that has found nothing
        by then rarely does later, and a run that fails should fail fast (tank_level, dev: 9 minutes, 25 calls, none
        passing). The stage always makes its first attempt (``tried`` False before it).
        """
        elapsed = time.monotonic() - started
        if passing:
            knob, budget = "env_budget_s", self.settings.env_budget_s
        else:
            knob, budget = "env_give_up_s", self.settings.env_give_up_s
        if budget is None or elapsed < budget or not tried:
            return False
        if not notes:
            found = f"with {len(passing)} passing candidate(s)" if passing else "with no passing candidate"
            notes.append(f"the environment stage stopped sampling after {elapsed:.0f} s ({knob}={budget:g}) {found}")
        return True

    def _decided(self, passing: list[tuple[int, Any, _Built]], *, remaining: int, text: Description) -> bool:
        """Whether the samples still to come cannot change the consensus (its largest group leads by more, and no
        later sample could add the first candidate with the text's lines, which would be chosen among first)."""
        if remaining == 0:
            return True
        record = self._consensus(passing)[1]
        if record["pool"] == "all" and text.step.updates:
            return False
        sizes = record["groups"]
        runner_up = sizes[1] if len(sizes) > 1 else 0
        return sizes[0] - runner_up > remaining

    def _consensus(self, passing: list[tuple[int, Any, _Built]]) -> tuple[int, dict[str, Any]]:
        """The position of the chosen passing candidate and the consensus record (group sizes, agreement).

        Candidates that take the text's own update lines (``_try_text_step``) are chosen among first; the others
        only when none of those passed. Agreement among the agent's answers is weak evidence when they copy the same
        upstream answer: on positioning_stage (dev) three Env answers copied the Modeling agent's wrong transition
        and outvoted the candidates with the text's lines, which were the reference's dynamics.
        """
        labels = [candidate for candidate, _, _ in passing]
        text_form = [i for i, label in enumerate(labels) if _is_text_form(label)]
        pool = text_form or list(range(len(passing)))
        pool_name = "text lines" if text_form else "all"
        if len(pool) == 1:
            return pool[0], {"groups": [1], "members": [[labels[pool[0]]]], "chosen": labels[pool[0]],
                             "agreement": 1.0, "pool": pool_name}  # fmt: skip
        consensus = choose([passing[i][2].behaviour(seed=self.settings.seed) for i in pool])
        return pool[consensus.chosen], {**consensus.as_record([labels[i] for i in pool]), "pool": pool_name}

    @staticmethod
    def _failed_env(attempts: list[dict[str, Any]], notes: list[str], route: str) -> dict[str, Any]:
        last = next((a for a in reversed(attempts) if a.get("error")), None)
        error = f"{route}: no candidate passed the checks" + (f"; last error: {last['error']}" if last else "")
        return {
            "env_passed": False,
            "attempts": attempts,
            "notes": notes,
            "coding_path": None,
            "env_report": ExecutionReport(passed=False, stage_failed=(last or {}).get("stage_failed"), error=error),
        }

    # --- the prediction ------------------------------------------------------------------------------------------

    @staticmethod
    def _prediction(
        values: dict[str, Any], records: dict[str, dict[str, Any]], failed: StageFailed | None, *, text_note: str = ""
    ) -> Any:
        out = {name: values.get(name) for name in PREDICTION_FIELDS}
        out["attempts"] = values.get("attempts") or []
        # Stage notes (``<stage>_notes``, ``interface_notes``) in stage order, then the environment's.
        stage_notes = [n for key, found in values.items() if key.endswith("_notes") for n in (found or [])]
        out["notes"] = [*([text_note] if text_note else []), *stage_notes, *(values.get("notes") or [])]
        out["env_passed"] = bool(values.get("env_passed"))
        out["stages"] = records
        if failed is not None:
            out.update(status="failed", failed_stage=failed.stage, error=failed.error)
        elif not out["env_passed"]:
            report = values.get("env_report")
            out.update(
                status="env_failed",
                failed_stage="env",
                error=report.error if isinstance(report, ExecutionReport) else "environment failed its checks",
            )
        else:
            out.update(status="ok", failed_stage=None, error="")
        return dspy.Prediction(**out)


# The paper's waterfall: (agent = stage name, its output field, the upstream outputs it reads besides the text).
_WATERFALL: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("parameter", "parameters", ()),
    ("objective", "objectives", ("parameters",)),
    ("variable", "variables", ("symbols", "parameters", "objectives")),
    ("constraint", "constraints", ("parameters", "variables")),
    ("modeling", "mdp", ("parameters", "objectives", "variables", "constraints")),
    ("sar", "sar", ("parameters", "variables", "mdp")),
)


class ALAMP(_Pipeline):
    """The A-LAMP chain of typed agents (see the module docstring).

    Args:
        settings: Program knobs (coding route, repairs, candidates, checks).
        lms: Per-agent LM overrides, keyed by agent attribute name (e.g. ``{"coding": big_lm}``).
    """

    def __init__(self, settings: ProgramSettings | None = None, lms: dict[str, dspy.LM] | None = None) -> None:
        super().__init__(settings, lms)
        self.parameter = dspy.Predict(ParameterSignature)
        self.objective = dspy.Predict(ObjectiveSignature)
        self.variable = dspy.Predict(VariableSignature)
        self.constraint = dspy.Predict(ConstraintSignature)
        self.modeling = dspy.Predict(ModelingSignature)
        self.sar = dspy.Predict(SARSignature)
        self.env = dspy.Predict(EnvSignature)
        self.symbol_value = dspy.Predict(SymbolValueSignature)
        self.env_item = dspy.Predict(EnvItemSignature)
        self.coding = dspy.Predict(CodingSignature)
        self.repair = dspy.Predict(RepairSignature)
        self._apply_lms()

    def forward(
        self, description: str, *, name: str | None = None, recorder: StageRecorder | None = None
    ) -> dspy.Prediction:
        """Run the chain on one description.

        Args:
            description: The decision problem, in words.
            name: Task name, used for the environment's gymnasium id.
            recorder: Where stage records go and finished stages are resumed from.

        Returns:
            A prediction with ``PREDICTION_FIELDS``; ``status`` is ``ok``, ``env_failed`` or ``failed``.
        """
        with nearest_demos(self, description):
            return self._forward(description, name=name, recorder=recorder)

    def _forward(self, description: str, *, name: str | None, recorder: StageRecorder | None) -> dspy.Prediction:
        recorder = recorder or MemoryRecorder()
        text = self._read(description)
        records: dict[str, dict[str, Any]] = {}
        values: dict[str, Any] = {"symbols": list(text.symbols)}
        try:
            for stage, output, inputs in _WATERFALL:
                ask = functools.partial(self._ask, stage, output, inputs, text=text, values=values)
                values |= self._stage(recorder, stage, (stage,), ask, records)
            coding = self.settings.coding
            if coding in ("compiler", "compiler_then_llm"):
                build_env = functools.partial(self._env_compiler, text, values, name)
                values |= self._stage(recorder, "env", ("symbol_value", "env", "env_item"), build_env, records)
            if coding == "llm" or (coding == "compiler_then_llm" and not values.get("env_passed")):
                previous = values.get("attempts") or []
                values |= self._stage(
                    recorder,
                    "coding",
                    ("coding", "repair"),
                    lambda: self._env_llm(text.text, values, previous),
                    records,
                )
        except StageFailed as failed:
            return self._prediction(values, records, failed, text_note=text.note)
        return self._prediction(values, records, None, text_note=text.note)

    def _ask(
        self, stage: str, output: str, inputs: tuple[str, ...], *, text: Description, values: dict[str, Any]
    ) -> dict[str, Any]:
        """One upstream agent: the text and the upstream outputs it reads in, its typed output out.

        The Parameter and Variable agents' quantities then take the text's own symbols as names
        (``alamp.text_names``), so every later agent is offered the names the text's formulas use.
        """
        upstream = {field: values[field] for field in inputs}
        if stage == "sar":
            return self._ask_sar(text=text, upstream=upstream)
        prediction = self._call_with_retries(getattr(self, stage), description=text.text, **upstream)
        answer = getattr(prediction, output)
        coverage_notes: list[str] = []
        if stage == "parameter":
            answer, coverage_notes = self._covering_parameters(answer, text=text, upstream=upstream)
        if stage in ("parameter", "variable"):
            taken = [p.name for p in values.get("parameters") or []] if stage == "variable" else []
            answer, notes = adopt_text_symbols(answer, text=text, taken=taken)
            return {output: answer, f"{stage}_notes": [*coverage_notes, *notes]}
        return {output: answer}

    def _covering_parameters(
        self, parameters: list[Parameter], *, text: Description, upstream: dict[str, Any]
    ) -> tuple[list[Parameter], list[str]]:
        """The Parameter agent's answer, sampled again when it accounts for too few of the text's numbers
        (``alamp.parameter_check``); the answer covering more is kept."""
        coverage = number_coverage(parameters, text.own_text)
        if coverage >= MIN_COVERAGE:
            return parameters, []
        notes = [f"the parameters account for {coverage:.0%} of the numbers the text states; sampled again"]
        for retry in range(1, 1 + self.settings.stage_retries):
            try:
                again = self.parameter(description=text.text, **upstream, config=self._sample_config(0, 200 + retry))
            except Exception as exc:  # an unreadable resample: keep the readable answer
                notes.append(f"the Parameter resample could not be read ({type(exc).__name__})")
                continue
            again_coverage = number_coverage(again.parameters, text.own_text)
            if again_coverage > coverage:
                parameters, coverage = again.parameters, again_coverage
                notes.append(f"kept the resample, which accounts for {coverage:.0%}")
            if coverage >= MIN_COVERAGE:
                break
        return parameters, notes

    def _ask_sar(self, *, text: Description, upstream: dict[str, Any]) -> dict[str, Any]:
        """The SAR agent, checked against the interface the text states (``alamp.interface``).

        On a mismatch the agent is sampled again (``stage_retries`` times, distinct rollouts); an action list the
        text enumerates then replaces one of another length.
        """
        stated, description = text.stated, text.text
        sar: SARSpec = self._call_with_retries(self.sar, description=description, **upstream).sar
        notes: list[str] = []
        for retry in range(1, 1 + self.settings.stage_retries):
            mismatch = check_sar(sar, stated)
            if not mismatch:
                break
            notes.append(f"SAR output disagrees with the text: {mismatch}; sampled again")
            try:
                sar = self.sar(description=description, **upstream, config=self._sample_config(0, 100 + retry)).sar
            except Exception as exc:  # an unreadable resample: keep the readable answer
                notes.append(f"the SAR resample could not be read ({type(exc).__name__})")
        sar, aligned = align_sar(sar, stated)
        return {"sar": sar, "interface_notes": [*notes, *aligned]}

    def _env_compiler(self, text: Description, up: dict[str, Any], name: str | None) -> dict[str, Any]:
        """The compiler route: ``num_candidates`` samples of the step, each repaired from its checker's errors, and
        among those that pass, the largest group of agreeing behaviour (``alamp.consensus``)."""
        attempts: list[dict[str, Any]] = []
        last_updates: list[Assignment] = []
        # The agent sees the constants the spec will define: list-valued parameters as their indexed elements.
        reserved = {v.name for v in up["variables"]} | set(up["mdp"].states)
        constants, _ = expand_parameters(parameters=up["parameters"], reserved=reserved)
        up, symbol_notes = self._with_text_symbol_values(text, up, constants)
        if symbol_notes:  # a symbol may have become a parameter
            constants, _ = expand_parameters(parameters=up["parameters"], reserved=reserved)
        names = self._expression_names(text, up, constants)
        passing: list[tuple[Any, list[Assignment], _Built]] = []
        text_forms: set[tuple[tuple[str, str], ...]] = set()
        started, budget_notes = time.monotonic(), []
        for candidate in range(self.settings.num_candidates):
            if self._over_budget(started, passing, budget_notes, tried=candidate > 0):
                break
            feedback = ""
            for attempt in range(1 + self.settings.max_repairs):
                _stamp_elapsed(attempts, started)
                if attempt and self._over_budget(started, passing, budget_notes):
                    break
                # The whole step in one call decodes its expressions freely (it may define helper quantities and
                # read them); an item that reads a name nothing defines is asked again under the names grammar.
                config = self._sample_config(candidate, attempt)
                try:
                    updates = self.env(
                        description=text.text,
                        constants=constants,
                        state=up["variables"],
                        actions=up["sar"].actions,
                        transitions=up["mdp"].transitions,
                        feedback=feedback,
                        config=config,
                    ).updates
                except Exception as exc:  # unparsable output: say so and let the next attempt try again
                    feedback = f"your previous answer could not be read: {type(exc).__name__}: {str(exc)[:500]}"
                    attempts.append(_agent_failure("compiler", candidate, attempt, feedback))
                    continue
                item_notes: list[str] = []
                if names is not None:
                    updates, item_notes = self._define_missing_names(
                        text, up, constants, updates, names=names, candidate=candidate, attempt=attempt
                    )
                last_updates = updates
                text_passed = self._try_text_step(
                    text, up, constants, updates, name=name, label=_text_form_label(candidate), attempt=attempt,
                    tried=text_forms, attempts=attempts, passing=passing,
                )  # fmt: skip
                built = self._build_from_updates(up, updates, name, text)
                attempts.append({**built.attempt(candidate=candidate, attempt=attempt), "items": item_notes})
                if built.report.passed and built.assembly is not None:
                    passing.append((candidate, updates, built))
                if (built.report.passed and built.assembly is not None) or text_passed:
                    break
                feedback = cap_text(built.report.error)  # the checker's message, bounded for the prompt
            if passing and self._decided(passing, remaining=self.settings.num_candidates - candidate - 1, text=text):
                break
        _stamp_elapsed(attempts, started)
        if not passing:
            failed = self._failed_env(attempts, [*symbol_notes, *budget_notes], "compiler")
            return {"parameters": up["parameters"], "updates": last_updates, "consensus": None, **failed}
        chosen, consensus = self._consensus(passing)
        _, updates, built = passing[chosen]
        assert built.assembly is not None
        return {
            "parameters": up["parameters"],
            "updates": updates,
            "env_spec": built.assembly.spec,
            "code": built.code,
            "env_report": built.report,
            "env_passed": True,
            "coding_path": "compiler",
            "attempts": attempts,
            "consensus": consensus,
            "notes": [*symbol_notes, *budget_notes, *built.assembly.notes],
        }

    def _with_text_symbol_values(
        self, text: Description, up: dict[str, Any], constants: list[Parameter]
    ) -> tuple[dict[str, Any], list[str]]:
        """The upstream outputs with a parameter for each symbol the text's formulas read that nothing defines.

        Each symbol is one short call of the Symbol value agent (``alamp.symbol_values``), which picks the constant
        the symbol stands for among ``constants`` (the parameters as the spec will define them), or none; the symbol
        becomes a constant with the picked one's value. Returns the outputs (parameters extended) and one note per
        symbol asked.
        """
        from alamp.lm.adapter import constrains_expressions

        missing = undefined_text_symbols(text, defined=self._defined_names(text, up, constants))
        options = [c for c in constants if isinstance(c.value, int | float)]
        if not missing or not options:
            return up, []
        config = self._sample_config(0)
        if constrains_expressions():  # the pick can only be one of the constants' names, or none
            config = {**config, EXPRESSION_NAMES_KEY: [*(c.name for c in options), NO_CONSTANT]}
        added: list[Parameter] = []
        notes: list[str] = []
        for symbol, formulas in missing:
            try:
                answer = self.symbol_value(
                    description=text.text,
                    formulas=formulas,
                    known_constants=constant_lines(options),
                    question=symbol_question(symbol),
                    config=config,
                ).answer
            except Exception as exc:  # an unreadable answer: the symbol stays undefined; the checker will say so
                notes.append(f"the text's formulas read {symbol!r}, which nothing defines; asking failed "
                             f"({type(exc).__name__})")  # fmt: skip
                continue
            chosen = symbol_constant(answer.which_constant, options)
            quantity = cap_text(answer.quantity, limit=200)
            if chosen is None:
                pick = cap_text(answer.which_constant, limit=60)
                notes.append(f"the text's formulas read {symbol!r}, which nothing defines; no constant found is it "
                             f"({quantity!r}; answer {pick!r}) (symbol_value)")  # fmt: skip
                continue
            added.append(Parameter(name=symbol, value=chosen.value, unit=chosen.unit, description=quantity,
                                   symbol=symbol))  # fmt: skip
            notes.append(f"the text's formulas read {symbol!r}, which nothing defined; it is {chosen.name} "
                         f"({quantity}): {symbol} = {chosen.value:g} (symbol_value)")  # fmt: skip
        if not added:
            return up, notes
        return {**up, "parameters": [*up["parameters"], *added]}, notes

    def _define_missing_names(
        self,
        text: Description,
        up: dict[str, Any],
        constants: list[Parameter],
        updates: list[Assignment],
        *,
        names: list[str],
        candidate: int,
        attempt: int,
    ) -> tuple[list[Assignment], list[str]]:
        """Define, one short call each, the names the step, the reward or a termination reads that nothing defines.

        ``x_dot = x_dot + tau*x_ddot`` with no ``x_ddot``; a reward ``-30*new_cases - cost_of_the_regime`` with no
        ``cost_of_the_regime`` (epidemic_control, dev); ``total_waiting + total_boarding`` (elevator, dev). The reader
        is usually right and a helper quantity is missing, so each missing name is asked for as an item of its own
        (target = that name) under the grammar of the names defined at that point, and put just before its first
        reader (after the step, for the reward and terminations). A name the step assigns later is left to the
        checker, whose message says to move that assignment; so is an answer missing more than a few names.

        Returns:
            The updates with the definitions inserted, and one note per name asked for.
        """
        targets = {u.target for u in updates}
        known = set(names)
        # ``u`` read while the actions set ``u_next``: one quantity, which assembly names ``u``
        # (action_values_set_the_read_symbol). Asked for, ``u`` came back as ``u = torque_plus``, an action's 0/1
        # indicator, and the pass no longer applied (pendulum_swingup, dev, session 15).
        set_by_actions = [a.target for action in up["sar"].actions for a in parse_assignments(action.effect or "")[0]]
        first_reader: dict[str, int] = {}
        for position, update in enumerate(updates):
            # An unparsable update is the checker's to name ("if", "else" are no missing quantities).
            for name in sorted(_parsed_names(update.expr) - known - targets - _FUNCTION_NAMES):
                if not any(updated_name(target, [name]) == name for target in set_by_actions):
                    first_reader.setdefault(name, position)
            known.add(update.target)
        after_step = len(updates)
        for expr in self._outcome_expressions(up):
            for name in sorted(_parsed_names(expr) - known - _FUNCTION_NAMES):
                if updated_name(name, sorted(known)) is None:  # x_next in a reward is assembly's to resolve
                    first_reader.setdefault(name, after_step)
        if not first_reader:
            return list(updates), []
        if len(first_reader) > _MAX_ITEMS_ASKED_AGAIN:
            # An answer this far off is no slip of one item: the checker's feedback goes back to the Env agent instead
            # (measured on elevator, dev: asking for every item made one Env stage 34 calls and 7 minutes).
            listed = ", ".join(sorted(first_reader))
            return list(updates), [f"{len(first_reader)} names are read but never defined ({listed}); left to the "
                                   "checker's feedback"]  # fmt: skip
        step: list[Assignment] = []
        notes: list[str] = []
        defined = set(names)
        for position in range(after_step + 1):
            for missing in [n for n, p in first_reader.items() if p == position]:
                config = {**self._sample_config(candidate, attempt), EXPRESSION_NAMES_KEY: sorted(defined)}
                try:
                    item = self.env_item(
                        description=text.text,
                        constants=constants,
                        state=up["variables"],
                        actions=up["sar"].actions,
                        step_so_far=[f"{u.target} = {u.expr}" for u in step],
                        target=missing,
                        config=config,
                    ).assignment
                except Exception as exc:  # an unreadable answer: the checker will name the missing name
                    notes.append(f"{missing}: read but never defined; asking for it failed ({type(exc).__name__})")
                    continue
                step.append(Assignment(target=missing, expr=item.expr))
                defined.add(missing)
                notes.append(f"{missing} was read but never defined; asked for it under the names defined so far: "
                             f"{missing} = {item.expr} (env_item)")  # fmt: skip
            if position < after_step:
                step.append(updates[position])
                defined.add(updates[position].target)
        return step, notes

    @staticmethod
    def _outcome_expressions(up: dict[str, Any]) -> list[str]:
        """The expressions read after the step: the SAR reward and the termination conditions."""
        found = [up["sar"].reward] if up.get("sar") is not None and up["sar"].reward else []
        found += [c.expression for c in up.get("constraints") or [] if c.kind == "termination"]
        return found

    def _expression_names(
        self, text: Description, up: dict[str, Any], constants: list[Parameter]
    ) -> list[str] | None:
        """The names an Env item may read, as ``_defined_names``; None when expressions are decoded freely."""
        from alamp.lm.adapter import constrains_expressions

        if not constrains_expressions():
            return None
        return sorted(self._defined_names(text, up, constants))

    @staticmethod
    def _defined_names(text: Description, up: dict[str, Any], constants: list[Parameter]) -> set[str]:
        """The names defined before the step runs.

        Constants (and the symbols they stand for), variables of every role (and their symbols), the actions' 0/1
        indicators and the names their effects set, the built-in ``action``, the constants the text gives, and the
        names it defines by a formula computable from those. An item may also read the targets before it.
        """
        names: set[str] = {"action", *text.constants, *text.action_symbols}
        for quantity in [*constants, *up["variables"]]:
            names.add(quantity.name)
            if quantity.symbol:
                try:
                    names.add(to_identifier(quantity.symbol))
                except ValueError:
                    pass
        for action in up["sar"].actions:
            names.add(action.name)
            # The assembly's own reading of an effect: every assignment in it (``dr = 0; dc = -1`` sets both; a
            # first-assignment-per-line reading missed ``dc`` on frozen_lake, dev, and an item redefined it).
            names.update(a.target for a in parse_assignments(action.effect or "")[0])
        # A name the text defines by a formula counts as defined only when its formula can be computed from what is
        # defined (assembly inserts it then); otherwise an item reading it is asked again.
        pending = dict(text.formulas)
        while grown := [n for n, f in pending.items() if _names_in(f) <= names | _FUNCTION_NAMES]:
            names.update(grown)
            for name in grown:
                pending.pop(name)
        return names

    def _env_llm(self, description: str, up: dict[str, Any], previous: list[dict[str, Any]]) -> dict[str, Any]:
        attempts = list(previous)

        def first_code(candidate: int) -> str:
            return self.coding(
                description=description,
                parameters=up["parameters"],
                mdp=up["mdp"],
                sar=up["sar"],
                config=self._sample_config(candidate),
            ).code

        result = self._code_loop(first_code, up["sar"], attempts)
        if result is None:
            return self._failed_env(attempts, up.get("notes") or [], "llm")
        return {**result, "attempts": attempts}


def _baseline_result(
    up: dict[str, Any], updates: list[Assignment], built: _Built, aligned: list[str], attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    """The baseline's stage output for one whole answer (its upstream parts, its step and its check)."""
    return {
        **up,
        "updates": updates,
        "env_spec": built.assembly.spec if built.assembly else None,
        "code": built.code,
        "env_report": built.report,
        "env_passed": built.report.passed,
        "attempts": attempts,
        "consensus": None,
        "notes": [*aligned, *(built.assembly.notes if built.assembly else [])],
        "coding_path": "compiler" if built.report.passed else None,
    }


class SingleModelBaseline(_Pipeline):
    """The baseline: one call writes everything (same prediction fields as ``ALAMP``, same checks).

    With ``coding=compiler`` the one call also writes the update equations, and the spec is assembled, compiled and
    checked exactly as for ``ALAMP`` (candidates are whole new calls; there is no Env agent to repair with). With
    ``coding=llm`` the one call writes the code, which the Repair agent fixes from the executor's errors, with the
    same ``max_repairs`` budget as ``ALAMP``.
    """

    def __init__(self, settings: ProgramSettings | None = None, lms: dict[str, dspy.LM] | None = None) -> None:
        super().__init__(settings, lms)
        self.single_model = dspy.Predict(SingleModelSignature)
        self.single_model_code = dspy.Predict(SingleModelCodeSignature)
        self.repair = dspy.Predict(RepairSignature)
        self._apply_lms()

    def forward(
        self, description: str, *, name: str | None = None, recorder: StageRecorder | None = None
    ) -> dspy.Prediction:
        """Run the baseline on one description (arguments and result as ``ALAMP.forward``)."""
        with nearest_demos(self, description):
            return self._forward(description, name=name, recorder=recorder)

    def _forward(self, description: str, *, name: str | None, recorder: StageRecorder | None) -> dspy.Prediction:
        recorder = recorder or MemoryRecorder()
        text = self._read(description)
        records: dict[str, dict[str, Any]] = {}
        values: dict[str, Any] = {}
        coding = self.settings.coding
        try:
            if coding in ("compiler", "compiler_then_llm"):
                values |= self._stage(
                    recorder,
                    "single_model",
                    ("single_model",),
                    lambda: self._spec_candidates(text, name),
                    records,
                )
            if coding == "llm" or (coding == "compiler_then_llm" and not values.get("env_passed")):
                previous = values.get("attempts") or []
                values |= self._stage(
                    recorder,
                    "single_model_code",
                    ("single_model_code", "repair"),
                    lambda: self._code_candidates(text.text, values, previous),
                    records,
                )
        except StageFailed as failed:
            return self._prediction(values, records, failed, text_note=text.note)
        return self._prediction(values, records, None, text_note=text.note)

    def _spec_candidates(self, text: Description, name: str | None) -> dict[str, Any]:
        """Whole-answer samples, each assembled and checked; among those that pass, the consensus (as ``ALAMP``)."""
        attempts: list[dict[str, Any]] = []
        first: dict[str, Any] | None = None
        passing: list[tuple[Any, Any, _Built]] = []
        text_forms: set[tuple[tuple[str, str], ...]] = set()
        started, budget_notes = time.monotonic(), []
        for candidate in range(self.settings.num_candidates):
            if self._over_budget(started, passing, budget_notes, tried=candidate > 0):
                break
            try:
                out = self._call_single(self.single_model, text.text, candidate)
            except Exception as exc:
                attempts.append(_agent_failure("compiler", candidate, 0, f"{type(exc).__name__}: {exc}"))
                continue
            up = {k: getattr(out, k) for k in ("parameters", "objectives", "variables", "constraints", "mdp", "sar")}
            up["sar"], aligned = align_sar(up["sar"], text.stated)
            before = len(passing)
            self._try_text_step(
                text, up, up["parameters"], out.updates, name=name, label=_text_form_label(candidate), attempt=0,
                tried=text_forms, attempts=attempts, passing=passing,
            )  # fmt: skip
            if len(passing) > before:  # the text's form of this answer passed: it competes as a whole answer too
                label, text_updates, text_built = passing[-1]
                passing[-1] = (label, _baseline_result(up, text_updates, text_built, aligned, attempts), text_built)
            built = self._build_from_updates(up, out.updates, name, text)
            attempts.append(built.attempt(candidate=candidate, attempt=0))
            result = _baseline_result(up, out.updates, built, aligned, attempts)
            first = first or result
            if built.report.passed:
                passing.append((candidate, result, built))
            if passing and self._decided(passing, remaining=self.settings.num_candidates - candidate - 1, text=text):
                break
        if passing:
            chosen, consensus = self._consensus(passing)
            result = passing[chosen][1]
            return {**result, "consensus": consensus, "notes": [*result["notes"], *budget_notes]}
        if first is None:
            raise StageFailed("single_model", attempts[-1]["error"] if attempts else "no output")
        return {**first, "notes": [*first["notes"], *budget_notes]}

    def _call_single(self, predictor: dspy.Predict, description: str, candidate: int) -> dspy.Prediction:
        last: Exception | None = None
        for retry in range(1 + self.settings.stage_retries):
            try:
                return predictor(description=description, config=self._sample_config(candidate, retry))
            except Exception as exc:
                last = exc
        assert last is not None
        raise last

    def _code_candidates(self, description: str, values: dict[str, Any], previous: list[dict[str, Any]]) -> dict:
        attempts = list(previous)
        upstream: dict[str, Any] = {}
        for candidate in range(self.settings.num_candidates):
            try:
                out = self._call_single(self.single_model_code, description, candidate)
            except Exception as exc:
                attempts.append(_agent_failure("llm", candidate, 0, f"{type(exc).__name__}: {exc}"))
                continue
            # The SAR spec the code must agree with comes from the same call.
            upstream = {"parameters": out.parameters, "mdp": out.mdp, "sar": out.sar}
            result = self._repair_loop(extract_code(out.code), candidate=candidate, sar=out.sar, attempts=attempts)
            if result is not None:
                return {**upstream, **result, "attempts": attempts}
        if not upstream:
            raise StageFailed("single_model_code", attempts[-1]["error"] if attempts else "no output")
        return {**upstream, **self._failed_env(attempts, [], "llm")}
