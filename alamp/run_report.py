"""One run's report: ``report.html`` (self-contained, readable offline) and ``report.md``, written into its directory.

``write_run_report(run_dir)`` reads what ``alamp.run`` left there (``run.json``, ``stages/*.json``,
``description.txt``, ``env_spec.json``, ``env.py``, ``training/curve.json``) and writes both files; ``python -m
alamp.report RUN_DIR`` rebuilds them. Everything is optional except ``run.json``: a run that failed at any stage, or
was killed, still gets a report of what it produced, with the failure explained.

The HTML needs no network and no script: inline CSS, the learning curve as inline SVG, the mathematics as
presentation MathML (:mod:`alamp.typeset`; browsers render it natively). Text that does not parse as an expression
is shown as code, as written. The Markdown has the same sections with LaTeX (``$...$``) and links the PNG curve.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alamp.typeset import typeset, typeset_assignment

__all__ = [
    "LEVELS",
    "RunReportData",
    "is_run_dir",
    "levels_of",
    "load_run",
    "render_html",
    "render_markdown",
    "write_run_report",
]

RUN_FILE = "run.json"

LEVELS: tuple[tuple[str, str], ...] = (
    ("modeled", "every modelling agent (parameters, objectives, variables, constraints, MDP, SAR) produced a "
                "schema-valid output"),
    ("coded", "an environment passed the executor's checks: it imports, constructs, passes gymnasium's check_env, "
              "takes random steps with finite values, has the stated spaces, and its actions change something"),
    ("trained", "DQN training on that environment finished with a policy"),
    ("policy_success", "the policy, run on the task's reference environment, reached the success threshold "
                       "(mean return over the task's evaluation episodes)"),
)  # fmt: skip
_LEVEL_TITLES = {"modeled": "modeled", "coded": "coded", "trained": "trained", "policy_success": "policy success"}
_AGENT_STAGES = ("parameter", "objective", "variable", "constraint", "modeling", "sar", "env", "coding", "repair")
_START_LINE = re.compile(
    r"observation (\d+) at reset: reference (\S+) ± (\S+), generated (\S+) ± (\S+)"
)  # from alamp.metric.start_fidelity


def levels_of(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's verdict, or, for a run graded by nothing (no task, or stopped before grading), the levels its own
    record shows: modeled (no modelling stage failed), coded (an environment passed), trained (a policy exists);
    ``graded`` is then False."""
    verdict = run.get("verdict")
    if isinstance(verdict, Mapping) and verdict:
        return dict(verdict)
    env, training, stages = run.get("env") or {}, run.get("training") or {}, run.get("stages") or {}
    # SAR is the last modelling stage (the one-call baseline does all of them in one).
    modeled = any((stages.get(name) or {}).get("status") == "ok" for name in ("sar", "single_model"))
    return {
        "modeled": modeled,
        "coded": bool(env.get("passed")),
        "trained": bool(training.get("trained")),
        "policy_success": False,
        "graded": False,
    }


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is one run's directory (it holds ``run.json``), as opposed to a multirun of many."""
    return (Path(path) / RUN_FILE).is_file()


@dataclass
class RunReportData:
    """Everything the report shows, read from a run directory (missing parts are empty)."""

    path: Path
    run: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    env_spec: dict[str, Any] | None = None
    env_code: str = ""
    curve: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.run.get("task") or self.run.get("label") or self.path.name)

    @property
    def verdict(self) -> dict[str, Any]:
        """The recorded verdict, else the levels the run's record shows (:func:`levels_of`)."""
        return levels_of(self.run)

    @property
    def graded(self) -> bool:
        """Whether the verdict came from grading against a task's reference."""
        verdict = self.verdict
        return verdict.get("graded") is True or ("task_id" in verdict and verdict.get("graded") is not False)

    @property
    def env(self) -> dict[str, Any]:
        return dict(self.run.get("env") or {})

    @property
    def training(self) -> dict[str, Any]:
        return dict(self.run.get("training") or {})


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_run(run_dir: str | Path) -> RunReportData:
    """Read a run directory.

    Raises:
        FileNotFoundError: ``run_dir`` has no ``run.json`` (not a directory written by ``python -m alamp.run``).
    """
    path = Path(run_dir)
    run = _read_json(path / RUN_FILE)
    if not isinstance(run, dict):
        raise FileNotFoundError(
            f"{path} is not a run directory: no readable {RUN_FILE} (pass a directory written by python -m alamp.run)"
        )
    outputs: dict[str, Any] = {}
    stage_files = sorted((path / "stages").glob("*.json"))
    order = {name: i for i, name in enumerate(_AGENT_STAGES)}
    for stage_file in sorted(stage_files, key=lambda p: order.get(p.stem, len(order))):
        record = _read_json(stage_file)
        if isinstance(record, dict) and isinstance(record.get("output"), dict):
            outputs.update({k: v for k, v in record["output"].items() if v not in (None, [], "")})
    curve = _read_json(path / "training" / "curve.json")
    if not isinstance(curve, list):
        curve = list((run.get("training") or {}).get("curve") or [])
    spec = _read_json(path / "env_spec.json")
    if not isinstance(spec, dict):
        spec = outputs.get("env_spec") if isinstance(outputs.get("env_spec"), dict) else None
    env_file = path / "env.py"
    return RunReportData(
        path=path,
        run=run,
        outputs=outputs,
        description=(path / "description.txt").read_text(encoding="utf-8") if (path / "description.txt").is_file()
        else "",
        env_spec=spec,
        env_code=env_file.read_text(encoding="utf-8") if env_file.is_file() else str(outputs.get("code") or ""),
        curve=[row for row in curve if isinstance(row, dict) and "step" in row],
    )  # fmt: skip


# --- what the report says (shared by both formats) ----------------------------------------------------------------


@dataclass
class _Level:
    name: str
    meaning: str
    state: str  # "reached", "failed" (the first level not reached), "not reached" (after a failure), "unknown"
    reason: str = ""


def _levels(data: RunReportData) -> list[_Level]:
    verdict = data.verdict
    levels: list[_Level] = []
    failed_seen = False
    for name, meaning in LEVELS:
        value = verdict.get(name)
        if value is None:
            state = "unknown"
        elif value:
            state = "reached"
        elif not failed_seen:
            state, failed_seen = "failed", True
        else:
            state = "not reached"
        reason = _failure_reason(name, data) if state == "failed" else ""
        levels.append(_Level(name=name, meaning=meaning, state=state, reason=reason))
    return levels


def _failure_reason(level: str, data: RunReportData) -> str:
    run, verdict, env = data.run, data.verdict, data.env
    if level == "modeled":
        stage = run.get("failed_stage")
        error = run.get("error") or ""
        return f"the {stage} stage failed: {error}" if stage else str(error)
    if level == "coded":
        attempts = env.get("attempts") or []
        if attempts:
            return (f"none of {len(attempts)} attempt(s) passed; the last failed at "
                    f"'{attempts[-1].get('stage_failed')}' (see the candidates below)")  # fmt: skip
        return str(run.get("error") or "no environment was produced")
    if level == "trained":
        error = data.training.get("error")
        return str(error) if error else "training was not run or did not finish with a policy"
    if level == "policy_success":
        ret, threshold = verdict.get("reference_return"), verdict.get("threshold")
        if ret is not None and threshold is not None:
            return f"mean return {_num(ret)} on the reference, threshold {_num(threshold)}"
        return next((m for m in verdict.get("messages") or [] if "policy" in m), "the policy was not evaluated")
    return ""


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if value in (float("inf"), float("-inf")):
            return "∞" if value > 0 else "−∞"
        return f"{value:.{digits}g}"
    if isinstance(value, list):
        return "[" + ", ".join(_num(v, digits) for v in value) + "]"
    return str(value)


def _fidelity_parts(verdict: Mapping[str, Any]) -> str:
    """``step 1.000, reward 0.020, termination 1.000`` (empty when the verdict has no parts)."""
    parts = verdict.get("fidelity_parts") or {}
    return ", ".join(f"{k} {_num(parts[k], 3)}" for k in ("step", "reward", "termination") if k in parts)


def _start_differences(data: RunReportData) -> list[dict[str, str]]:
    """The observation entries whose start distribution differs from the reference's (from the verdict's messages)."""
    names = list((data.outputs.get("sar") or {}).get("observations") or [])
    rows = []
    for message in data.verdict.get("messages") or []:
        match = _START_LINE.search(message)
        if match:
            index = int(match.group(1))
            rows.append({
                "entry": f"{index} ({names[index]})" if index < len(names) else str(index),
                "reference": f"{match.group(2)} ± {match.group(3)}",
                "generated": f"{match.group(4)} ± {match.group(5)}",
            })  # fmt: skip
    return rows


def _other_messages(data: RunReportData) -> list[str]:
    return [m for m in data.verdict.get("messages") or [] if not _START_LINE.search(m)]


def _lm_rows(data: RunReportData) -> list[dict[str, Any]]:
    per_agent = dict((data.run.get("lm") or {}).get("per_agent") or {})
    rows = []
    for agent, usage in per_agent.items():
        prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        rows.append({
            "agent": agent, "calls": int(usage.get("calls", 0)), "prompt": prompt, "completion": completion,
            "total": int(usage.get("total_tokens", prompt + completion)), "cache": int(usage.get("cache_hits", 0)),
            "seconds": float(usage.get("seconds", 0.0)),
        })  # fmt: skip
    return rows


def _stage_rows(data: RunReportData) -> list[dict[str, Any]]:
    rows = []
    for name, record in (data.run.get("stages") or {}).items():
        record = record or {}
        rows.append({
            "stage": name, "status": record.get("status", ""), "seconds": record.get("seconds"),
            "resumed": bool(record.get("resumed")), "error": str(record.get("error") or ""),
        })  # fmt: skip
    return rows


# --- the learning curve -------------------------------------------------------------------------------------------


def _curve_svg(curve: Sequence[Mapping[str, Any]], *, threshold: float | None) -> str:
    """The learning curve as an inline ``<svg>`` (text drawn as paths: no font needed to view it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [float(row["step"]) for row in curve]
    means = [float(row.get("eval_mean", float("nan"))) for row in curve]
    stds = [float(row.get("eval_std", 0.0) or 0.0) for row in curve]
    with plt.rc_context({"svg.fonttype": "path", "font.size": 9}):
        figure, axis = plt.subplots(figsize=(6.4, 3.2))
        axis.plot(steps, means, marker="o", markersize=3, label="greedy evaluation (mean)")
        axis.fill_between(steps, [m - s for m, s in zip(means, stds, strict=True)],
                          [m + s for m, s in zip(means, stds, strict=True)], alpha=0.2, label="± std")  # fmt: skip
        train = [row.get("train_return_mean") for row in curve]
        if any(v is not None for v in train):
            axis.plot(steps, [float("nan") if v is None else float(v) for v in train], linestyle=":", linewidth=1,
                      label="training episodes (mean)")  # fmt: skip
        if threshold is not None:
            axis.axhline(threshold, linestyle="--", color="grey", label=f"success threshold {threshold:g}")
        axis.set_xlabel("environment steps")
        axis.set_ylabel("episode return")
        axis.legend(loc="best", fontsize="small")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
        plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    return svg.replace("<svg ", '<svg role="img" aria-label="learning curve" class="curve" ', 1)


# --- HTML ---------------------------------------------------------------------------------------------------------

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; margin-top: 34px; } h3 { font-size: 16px; margin: 20px 0 6px; }
.sub { color: var(--muted); margin: 0 0 14px; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 12px; font-size: 13px; font-weight: 600;
         color: #fff; vertical-align: middle; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.other { background: #9a6700; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--line); padding: 10px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; }
.levels { display: flex; gap: 8px; flex-wrap: wrap; margin: 8px 0 4px; }
.level { flex: 1 1 220px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: #fff; }
.level .head { font-weight: 700; } .level.reached { border-left: 5px solid var(--ok); }
.level.failed { border-left: 5px solid var(--bad); background: #fff5f5; }
.level.not-reached, .level.unknown { border-left: 5px solid var(--line); color: var(--muted); }
.level .why { font-size: 13px; margin-top: 4px; } .level .meaning { font-size: 12.5px; color: var(--muted); }
.arrow { align-self: center; color: var(--muted); font-size: 20px; }
.metrics td:first-child { font-weight: 600; }
dl.meta { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0 0 8px; font-size: 14px; }
dl.meta div { display: flex; gap: 6px; } dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
.mdp { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; align-items: center; }
.mdp .label { color: var(--muted); font-weight: 600; }
math { font-size: 1.1em; font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre",
       math; }
.eq { margin: 5px 0; }
.unparsed { background: #fff8c5; padding: 0 3px; }
details > summary { cursor: pointer; color: #0969da; margin: 6px 0; }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); font-size: 13.5px; }
svg.curve { max-width: 100%; height: auto; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Iterable[int] = ()) -> str:
    """An HTML table; cells are given as HTML (escape text before)."""
    numeric = set(numeric)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _math(text: Any, *, display: bool = False) -> str:
    return typeset(str(text)).html(display=display) if str(text or "").strip() else ""


def _name_math(name: str) -> str:
    """A variable name typeset the way the equations show it (θ̇ for theta_dot)."""
    ts = typeset(name)
    return ts.html() if ts.parsed else f"<code>{_e(name)}</code>"


def _short_path(path: Any) -> str:
    """A path inside the project as a relative one (``artifacts/alamp_labeled.json``), any other as it is."""
    if not path:
        return ""
    from alamp.paths import project_root

    try:
        return str(Path(str(path)).resolve().relative_to(project_root().resolve()))
    except ValueError:
        return str(path)


def _status_badge(status: str) -> str:
    kind = "ok" if status == "ok" else "bad" if status and status != "running" else "other"
    return f'<span class="badge {kind}">{_e(status or "unknown")}</span>'


def _html_header(data: RunReportData) -> str:
    run = data.run
    lm = run.get("lm_config") or {}
    meta = [
        ("task", run.get("task") or "— (own description, not graded)"),
        ("pipeline", run.get("pipeline")),
        ("environment route", run.get("coding")),
        ("seed", run.get("seed")),
        ("compiled program", _short_path(run.get("program")) or "none (zero-shot)"),
        ("LM", " / ".join(str(v) for v in (lm.get("model"), lm.get("backend")) if v)),
        ("started", run.get("created")),
        ("wall time", f"{_num(run.get('wall_time_s'))} s" if run.get("wall_time_s") is not None else "–"),
        ("exit code", run.get("exit_code")),
        ("resumed", "yes" if run.get("resumed") else "no"),
        ("directory", str(data.path)),
    ]
    rows = [(_e(k), _e(v if v not in (None, "") else "–")) for k, v in meta]
    out = [
        f"<h1>alamp run: {_e(data.title)} {_status_badge(str(run.get('status') or ''))}</h1>",
        f'<p class="sub">{_e(run.get("pipeline") or "")} pipeline · report of <code>{_e(data.path.name)}</code></p>',
    ]
    out.append('<dl class="meta">' + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in rows) + "</dl>")
    if run.get("error") and run.get("status") != "ok":
        out.append(f"<p><b>Error:</b></p><pre>{_e(run['error'])}</pre>")
    steps = run.get("next_steps") or []
    if steps:
        out.append("<p><b>What to try next:</b></p><ul>" + "".join(f"<li><code>{_e(s)}</code></li>" for s in steps)
                   + "</ul>")  # fmt: skip
    return "\n".join(out)


def _html_verdict(data: RunReportData) -> str:
    verdict = data.verdict
    out = ["<h2 id=verdict>Verdict</h2>"]
    if data.run.get("status") == "running":
        out.append('<p class="note">The run did not finish (killed or still running): this is what it had produced; '
                   "<code>resume=</code> continues it.</p>")  # fmt: skip
    if not data.graded:
        out.append('<p class="note">Not graded against a reference environment (the run had no task, or stopped '
                   "before grading): the levels are what the run's own record shows.</p>")  # fmt: skip
    cards = []
    for i, level in enumerate(_levels(data)):
        mark = {"reached": "✓", "failed": "✗", "not reached": "–", "unknown": "?"}[level.state]
        why = f'<div class="why">{_e(level.reason)}</div>' if level.reason else ""
        cards.append(
            f'<div class="level {level.state.replace(" ", "-")}"><div class="head">{mark} '
            f"{_e(_LEVEL_TITLES[level.name])}</div>"
            f'<div class="meaning">{_e(level.meaning)}</div>{why}</div>'
        )
        if i < len(LEVELS) - 1:
            cards.append('<div class="arrow">→</div>')
    out.append('<div class="levels">' + "".join(cards) + "</div>")
    if data.graded:
        rows = []
        if verdict.get("reference_return") is not None:
            rows.append(("return on the reference", f"{_num(verdict['reference_return'])} ± "
                         f"{_num(verdict.get('reference_return_std'))} (threshold {_num(verdict.get('threshold'))})"))
        if verdict.get("normalized_return") is not None:
            rows.append(("normalized return", f"{_num(verdict['normalized_return'], 3)}  "
                         "<span class=note>(R − R<sub>random</sub>) / (R<sub>best</sub> − R<sub>random</sub>)</span>"))
        if verdict.get("modeling_score") is not None:
            details = ", ".join(f"{_e(k)} {_num(v, 3)}" for k, v in (verdict.get("modeling_details") or {}).items())
            rows.append(("modeling score", f"{_num(verdict['modeling_score'], 3)}"
                         + (f" <span class=note>({details})</span>" if details else "")))
        rows.append(("fidelity", f"{_num(verdict.get('fidelity'), 3)} <span class=note>share of sampled reference "
                     "(state, action) pairs where this environment gives the same next observation, reward and "
                     "termination</span>"))
        if parts := _fidelity_parts(verdict):
            rows.append(("fidelity by part", f"{_e(parts)} <span class=note>the same pairs, each part alone: where "
                         "the environment departs from the reference</span>"))
        rows.append(("start fidelity", f"{_num(verdict.get('start_fidelity'), 3)} <span class=note>share of "
                     "observation entries whose distribution at reset agrees with the reference's</span>"))
        out.append('<table class="metrics">' + "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in rows)
                   + "</table>")  # fmt: skip
        differing = _start_differences(data)
        if differing:
            out.append("<h3>Start-state entries that differ from the reference</h3>")
            out.append(_table(["observation", "reference (mean ± std)", "this environment (mean ± std)"],
                              [(_e(r["entry"]), _e(r["reference"]), _e(r["generated"])) for r in differing]))
        messages = _other_messages(data)
        if messages:
            out.append("<h3>Grader's messages</h3><ul>" + "".join(f"<li>{_e(m)}</li>" for m in messages) + "</ul>")
    return "\n".join(out)


def _html_problem(data: RunReportData) -> str:
    outputs = data.outputs
    out = ["<h2 id=problem>The problem as the agents read it</h2>"]
    if data.description:
        out.append(f"<h3>Description</h3><pre>{_e(data.description.strip())}</pre>")
    parameters = outputs.get("parameters") or []
    if parameters:
        out.append("<h3>Parameters</h3>")
        out.append(_table(
            ["name", "symbol", "value", "unit", "description"],
            [(_name_math(p.get("name", "")), _e(p.get("symbol")), _e(_num(p.get("value"), 6)), _e(p.get("unit")),
              _e(p.get("description"))) for p in parameters],
            numeric=[2],
        ))  # fmt: skip
    objectives = outputs.get("objectives") or []
    if objectives:
        out.append("<h3>Objective</h3>")
        out.append(_table(
            ["name", "sense", "expression", "weight", "description"],
            [(_e(o.get("name")), _e({"max": "maximize", "min": "minimize"}.get(o.get("sense"), o.get("sense"))),
              _math(o.get("expression")), _e(_num(o.get("weight"))), _e(o.get("description"))) for o in objectives],
        ))  # fmt: skip
    variables = outputs.get("variables") or []
    if variables:
        out.append("<h3>Variables</h3>")
        out.append(_table(
            ["name", "role", "domain", "low", "high", "initial", "description"],
            [(_name_math(v.get("name", "")), _e(v.get("role")), _e(v.get("domain")), _e(_num(v.get("low"))),
              _e(_num(v.get("high"))), _math(v.get("initial")), _e(v.get("description"))) for v in variables],
            numeric=[3, 4],
        ))  # fmt: skip
    constraints = outputs.get("constraints") or []
    if constraints:
        out.append("<h3>Constraints</h3>")
        out.append(_table(["kind", "condition", "description"],
                          [(_e(c.get("kind")), _math(c.get("expression")), _e(c.get("description")))
                           for c in constraints]))  # fmt: skip
    return "\n".join(out)


def _html_mdp(data: RunReportData) -> str:
    mdp = data.outputs.get("mdp")
    out = ["<h2 id=mdp>Formal MDP</h2>"]
    if not isinstance(mdp, dict):
        out.append('<p class="note">The Modeling agent produced no model in this run.</p>')
        return "\n".join(out)
    states = ", ".join(_name_math(s) for s in mdp.get("states") or [])
    actions = ", ".join(_name_math(a) for a in mdp.get("actions") or [])
    rows = [
        ("state", f"<span>𝒮 = ( {states} )</span>"),
        ("actions", f"<span>𝒜 = {{ {actions} }}</span>"),
        ("transitions", "".join(f'<div class="eq">{_math(t, display=True)}</div>' for t in mdp.get("transitions") or [])
         or '<span class="note">none stated</span>'),
        ("reward", f"<span><i>r</i> = {_math(mdp.get('reward'))}</span>"),
        ("discount", f"<span><i>γ</i> = {_e(_num(mdp.get('discount')))}</span>"),
        ("horizon", f"<span><i>H</i> = {_e(mdp.get('horizon_parameter') or mdp.get('horizon'))}</span>"),
        ("termination", "".join(f'<div class="eq">{_math(t, display=True)}</div>' for t in mdp.get("termination") or [])
         or '<span class="note">the horizon only</span>'),
    ]  # fmt: skip
    out.append('<div class="mdp">' + "".join(f'<div class="label">{_e(k)}</div><div>{v}</div>' for k, v in rows)
               + "</div>")  # fmt: skip
    sar = data.outputs.get("sar")
    if isinstance(sar, dict):
        out.append("<h3>What the controller observes and does (SAR)</h3>")
        obs = ", ".join(_name_math(o) for o in sar.get("observations") or [])
        out.append(f"<p>Observation: ( {obs} ) · reward <i>r</i> = {_math(sar.get('reward'))}</p>")
        out.append(_table(["#", "action", "effect"],
                          [(str(i), _e(a.get("name")), _math(a.get("effect"))) for i, a in
                           enumerate(sar.get("actions") or [])], numeric=[0]))  # fmt: skip
    notes = data.outputs.get("interface_notes") or []
    if notes:
        out.append('<p class="note">Interface check: ' + _e("; ".join(map(str, notes))) + "</p>")
    return "\n".join(out)


def _html_spec(spec: Mapping[str, Any]) -> str:
    out = ["<h3>Environment spec</h3>"]
    constants = spec.get("constants") or {}
    if constants:
        out.append(_table(["constant", "value"], [(_name_math(k), _e(_num(v, 6))) for k, v in constants.items()],
                          numeric=[1]))  # fmt: skip
    state = spec.get("state") or []
    if state:
        out.append(_table(
            ["state", "low", "high", "start", "clipped to bounds"],
            [(_name_math(s.get("name", "")), _e(_num(s.get("low"))), _e(_num(s.get("high"))), _math(s.get("init")),
              "yes" if s.get("clip") else "no") for s in state],
            numeric=[1, 2],
        ))  # fmt: skip
    draws = spec.get("draws") or []
    if draws:
        out.append(_table(["random draw", "distribution"],
                          [(_name_math(d.get("name", "")), _math(d.get("expr") or d.get("distribution")))
                           for d in draws]))  # fmt: skip
    actions = spec.get("actions") or []
    if actions:
        out.append(_table(
            ["#", "action", "sets"],
            [(str(i), _e(a.get("name")), " ".join(typeset_assignment(u["target"], u["expr"]).html()
                                                  for u in a.get("updates") or [])) for i, a in enumerate(actions)],
            numeric=[0],
        ))  # fmt: skip
    updates = spec.get("updates") or []
    out.append("<p>Each step, after the action's assignments, in this order:</p>")
    out.append("".join(f'<div class="eq">{typeset_assignment(u["target"], u["expr"]).html(display=True)}</div>'
                       for u in updates)
               or '<p class="note">no updates</p>')  # fmt: skip
    terminated = spec.get("terminated") or []
    rows = [
        ("reward", _math(spec.get("reward"))),
        ("ends when", " or ".join(_math(t) for t in terminated) or "the step limit"),
        ("step limit", _e(spec.get("max_steps"))),
        ("observation", ", ".join(_name_math(o) for o in spec.get("observation") or [])),
    ]
    out.append('<table class="metrics">' + "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in rows)
               + "</table>")  # fmt: skip
    return "\n".join(out)


def _html_env(data: RunReportData) -> str:
    env = data.env
    out = ["<h2 id=environment>Environment</h2>"]
    passed = env.get("passed")
    route = env.get("coding_path") or data.run.get("coding")
    verdict = '<span class="pass">passed</span>' if passed else '<span class="fail">failed</span>'
    out.append(f"<p>Route: <b>{_e(route)}</b> · checks: {verdict} · repairs: {_e(env.get('repairs', 0))}</p>")
    consensus = env.get("consensus")
    if isinstance(consensus, dict):
        groups = consensus.get("groups") or []
        chosen = consensus.get("chosen")
        agreement = consensus.get("agreement")
        out.append("<h3>Candidate agreement</h3>")
        members = consensus.get("members") or []
        detail = (" (" + "; ".join("candidates " + ", ".join(map(str, m)) for m in members) + ")") if members else ""
        compared = ("The candidates with the text's own update lines (chosen among first)"
                    if consensus.get("pool") == "text lines" else "The candidates")  # fmt: skip
        out.append(f"<p>{compared} that passed the checks behave as {len(groups)} distinct environment(s): "
                   f"groups of sizes {_e(', '.join(str(g) for g in groups))}{_e(detail)}. Candidate {_e(chosen)}, "
                   f"of the largest group, was chosen. Agreement: <b>{_e(_num(agreement, 3))}</b> (the share of "
                   "the compared candidates in the chosen group).</p>")  # fmt: skip
    attempts = env.get("attempts") or []
    if attempts:
        out.append("<h3>Candidates and repairs</h3>")
        folders = list(env.get("candidates") or [])
        folders += [""] * (len(attempts) - len(folders))
        out.append(_table(
            ["candidate", "attempt", "route", "result", "failed check", "checker's message", "files"],
            [(_e(a.get("candidate")), _e(a.get("attempt")), _e(a.get("route")),
              '<span class="pass">passed</span>' if a.get("passed") else '<span class="fail">failed</span>',
              _e(a.get("stage_failed") or ""), f"<pre>{_e(a.get('error'))}</pre>" if a.get("error") else "",
              _candidate_link(data.path, folder)) for a, folder in zip(attempts, folders, strict=True)],
            numeric=[0, 1],
        ))  # fmt: skip
    notes = env.get("notes") or []
    if notes:
        out.append("<h3>Assembly notes</h3><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    if data.env_spec:
        out.append(_html_spec(data.env_spec))
        out.append("<details><summary>env_spec.json</summary><pre>"
                   + _e(json.dumps(data.env_spec, indent=1)) + "</pre></details>")  # fmt: skip
    if data.env_code:
        out.append(f"<details><summary>env.py ({len(data.env_code.splitlines())} lines)</summary>"
                   f"<pre>{_e(data.env_code)}</pre></details>")  # fmt: skip
    return "\n".join(out)


def _candidate_link(path: Path, folder: str) -> str:
    target = f"candidates/{folder}"
    return f'<a href="{_e(target)}/">{_e(target)}/</a>' if folder and (path / target).is_dir() else ""


def _threshold(data: RunReportData) -> float | None:
    value = data.verdict.get("threshold")
    if value is None:
        value = data.training.get("threshold")
    return float(value) if isinstance(value, int | float) else None


def _html_training(data: RunReportData) -> str:
    out = ["<h2 id=training>Training</h2>"]
    training = data.training
    if not training and not data.curve:
        out.append('<p class="note">No training in this run (no environment passed the checks, or train=false).</p>')
        return "\n".join(out)
    if data.curve:
        out.append(_curve_svg(data.curve, threshold=_threshold(data)))
    rows = [
        ("trained", _num(training.get("trained"))),
        ("environment steps", _num(training.get("steps"))),
        ("episodes", _num(training.get("episodes"))),
        ("best evaluation mean", _num(training.get("best_eval_mean"))),
        ("stopped by", training.get("stopped_by")),
        ("seconds", _num(training.get("seconds") or training.get("wall_seconds"))),
    ]
    out.append('<table class="metrics">' + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v or '–')}</td></tr>"
                                                   for k, v in rows) + "</table>")  # fmt: skip
    if training.get("error"):
        out.append(f"<pre>{_e(training['error'])}</pre>")
    return "\n".join(out)


def _html_cost(data: RunReportData) -> str:
    out = ["<h2 id=cost>LM calls, tokens and time</h2>"]
    rows = _lm_rows(data)
    if rows:
        total = {k: sum(r[k] for r in rows) for k in ("calls", "prompt", "completion", "total", "cache", "seconds")}
        body = [(_e(r["agent"]), str(r["calls"]), str(r["prompt"]), str(r["completion"]), str(r["total"]),
                 str(r["cache"]), f"{r['seconds']:.1f}") for r in rows]  # fmt: skip
        body.append(("<b>total</b>", *(f"<b>{total[k]}</b>" for k in ("calls", "prompt", "completion", "total",
                                                                      "cache")), f"<b>{total['seconds']:.1f}</b>"))
        out.append(_table(["agent", "calls", "prompt tokens", "completion tokens", "tokens", "cache hits", "seconds"],
                          body, numeric=range(1, 7)))  # fmt: skip
    stages = _stage_rows(data)
    if stages:
        out.append("<h3>Stages</h3>")
        out.append(_table(
            ["stage", "status", "seconds", "error"],
            [(_e(s["stage"]) + (" <span class=note>(resumed)</span>" if s["resumed"] else ""),
              f'<span class="{"pass" if s["status"] == "ok" else "fail"}">{_e(s["status"])}</span>',
              _e(_num(s["seconds"])), f"<pre>{_e(s['error'])}</pre>" if s["error"] else "") for s in stages],
            numeric=[2],
        ))  # fmt: skip
    return "\n".join(out)


def _html_files(data: RunReportData) -> str:
    names = ["run.json", "description.txt", "mdp.md", "env.py", "env_spec.json", "config.yaml", "run.log",
             "candidates", "training/curve.json", "training/curve.png", "training/policy"]  # fmt: skip
    present = [n for n in names if (data.path / n).exists()]
    links = " · ".join(f'<a href="{_e(n)}">{_e(n)}</a>' for n in present)
    return f'<h2 id=files>Files</h2><p class="note">In this directory: {links}</p>'


def render_html(data: RunReportData) -> str:
    """The report as one self-contained HTML page."""
    # What a reader asks first (did it work, what model, did it learn) before the details that explain it.
    sections = [
        _html_header(data), _html_verdict(data), _html_mdp(data), _html_training(data), _html_problem(data),
        _html_env(data), _html_cost(data), _html_files(data),
    ]  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>alamp run: {_e(data.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(sections)
        + '\n<p class="note">Written by alamp (python -m alamp.report RUN_DIR rebuilds it).</p>\n</body></html>\n'
    )


# --- Markdown -----------------------------------------------------------------------------------------------------


def _md_cell(value: Any) -> str:
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _md(text: Any) -> str:
    return typeset(str(text)).markdown() if str(text or "").strip() else ""


def _md_name(name: str) -> str:
    return typeset(name).markdown()


def render_markdown(data: RunReportData) -> str:
    """The report as Markdown with LaTeX maths (GitHub renders ``$...$``)."""
    run, verdict, outputs, env = data.run, data.verdict, data.outputs, data.env
    lm = run.get("lm_config") or {}
    lines = [f"# alamp run: {data.title} — {run.get('status') or 'unknown'}", ""]
    if run.get("error") and run.get("status") != "ok":
        lines += ["```text", str(run["error"]), "```", ""]
    if run.get("next_steps"):
        lines += ["What to try next:", ""] + [f"- `{step}`" for step in run["next_steps"]] + [""]
    lines += _md_table(["", ""], [
        ("task", run.get("task") or "— (own description, not graded)"), ("pipeline", run.get("pipeline")),
        ("environment route", run.get("coding")), ("seed", run.get("seed")),
        ("compiled program", _short_path(run.get("program")) or "none (zero-shot)"),
        ("LM", " / ".join(str(v) for v in (lm.get("model"), lm.get("backend")) if v)),
        ("wall time (s)", _num(run.get("wall_time_s"))),
    ])  # fmt: skip

    lines += ["## Verdict", ""]
    if not data.graded:
        lines += ["Not graded against a reference environment: the levels are what the run's own record shows.", ""]
    marks = {"reached": "✓", "failed": "✗", "not reached": "–", "unknown": "?"}
    lines += [" → ".join(f"{marks[lv.state]} {_LEVEL_TITLES[lv.name]}" for lv in _levels(data)), ""]
    for level in _levels(data):
        lines.append(f"- **{_LEVEL_TITLES[level.name]}** ({level.state}): {level.meaning}."
                     + (f" **Why not:** {level.reason}" if level.reason else ""))  # fmt: skip
    lines.append("")
    if data.graded:
        rows = [("fidelity", _num(verdict.get("fidelity"), 3)),
                ("fidelity by part", _fidelity_parts(verdict) or "–"),
                ("start fidelity", _num(verdict.get("start_fidelity"), 3)),
                ("modeling score", _num(verdict.get("modeling_score"), 3)),
                ("normalized return", _num(verdict.get("normalized_return"), 3)),
                ("return on the reference", f"{_num(verdict.get('reference_return'))} (threshold "
                                            f"{_num(verdict.get('threshold'))})")]  # fmt: skip
        lines += _md_table(["measure", "value"], rows)
        differing = _start_differences(data)
        if differing:
            lines += ["Start-state entries that differ from the reference:", ""]
            lines += _md_table(["observation", "reference", "this environment"],
                               [(r["entry"], r["reference"], r["generated"]) for r in differing])  # fmt: skip
        lines += [f"- {m}" for m in _other_messages(data)] + ([""] if _other_messages(data) else [])

    lines += ["## Description", "", "```text", data.description.strip(), "```", ""] if data.description else []
    if outputs.get("parameters"):
        lines += ["## Parameters", ""] + _md_table(["name", "symbol", "value", "unit", "description"], [
            (_md_name(p.get("name", "")), p.get("symbol"), _num(p.get("value"), 6), p.get("unit"), p.get("description"))
            for p in outputs["parameters"]])  # fmt: skip
    if outputs.get("objectives"):
        lines += ["## Objective", ""] + _md_table(["name", "sense", "expression", "description"], [
            (o.get("name"), o.get("sense"), _md(o.get("expression")), o.get("description"))
            for o in outputs["objectives"]])  # fmt: skip
    if outputs.get("variables"):
        lines += ["## Variables", ""] + _md_table(["name", "role", "domain", "low", "high", "initial"], [
            (_md_name(v.get("name", "")), v.get("role"), v.get("domain"), _num(v.get("low")), _num(v.get("high")),
             _md(v.get("initial"))) for v in outputs["variables"]])  # fmt: skip
    if outputs.get("constraints"):
        lines += ["## Constraints", ""] + _md_table(["kind", "condition", "description"], [
            (c.get("kind"), _md(c.get("expression")), c.get("description")) for c in outputs["constraints"]])

    mdp = outputs.get("mdp")
    if isinstance(mdp, dict):
        lines += ["## Formal MDP", ""]
        lines += [r"- state $\mathcal{S} = (" + ", ".join(_tex_name(s) for s in mdp.get("states") or []) + ")$",
                  r"- actions $\mathcal{A} = \{" + ", ".join(_tex_name(a) for a in mdp.get("actions") or []) + r"\}$",
                  "- transitions:"]  # fmt: skip
        lines += [f"  - {_md(t)}" for t in mdp.get("transitions") or []] or ["  - none stated"]
        lines += [f"- reward $r$ = {_md(mdp.get('reward'))}", f"- discount $\\gamma = {_num(mdp.get('discount'))}$",
                  f"- horizon $H = {mdp.get('horizon_parameter') or mdp.get('horizon')}$", "- termination:"]
        lines += [f"  - {_md(t)}" for t in mdp.get("termination") or []] or ["  - the horizon only"]
        lines.append("")

    lines += ["## Environment", "", f"Route: **{env.get('coding_path') or run.get('coding')}**, checks "
              f"**{'passed' if env.get('passed') else 'failed'}**, repairs: {env.get('repairs', 0)}.", ""]
    consensus = env.get("consensus")
    if isinstance(consensus, dict):
        among = " among those with the text's own update lines" if consensus.get("pool") == "text lines" else ""
        lines += [f"Candidate agreement{among}: {_num(consensus.get('agreement'), 3)} (groups of sizes "
                  f"{', '.join(str(g) for g in consensus.get('groups') or [])}; candidate {consensus.get('chosen')} "
                  "chosen).", ""]  # fmt: skip
    if env.get("attempts"):
        lines += _md_table(["candidate", "attempt", "route", "result", "failed check", "checker's message"], [
            (a.get("candidate"), a.get("attempt"), a.get("route"), "passed" if a.get("passed") else "failed",
             a.get("stage_failed") or "", f"`{_md_cell(a.get('error') or '')[:400]}`" if a.get("error") else "")
            for a in env["attempts"]])  # fmt: skip
    spec = data.env_spec
    if spec:
        lines += ["Updates, in order:", ""]
        lines += [f"- {typeset_assignment(u['target'], u['expr']).markdown()}" for u in spec.get("updates") or []]
        lines += ["", f"Reward {_md(spec.get('reward'))}; ends when "
                  + (" or ".join(_md(t) for t in spec.get("terminated") or []) or "the step limit")
                  + f"; step limit {spec.get('max_steps')}.", ""]  # fmt: skip
    if data.env_code:
        lines += ["<details><summary>env.py</summary>", "", "```python", data.env_code.rstrip(), "```", "",
                  "</details>", ""]  # fmt: skip

    lines += ["## Training", ""]
    if (data.path / "training" / "curve.png").is_file():
        lines += ["![learning curve](training/curve.png)", ""]
    training = data.training
    if training:
        lines += [f"Trained: {_num(training.get('trained'))}; {_num(training.get('steps'))} steps, best evaluation "
                  f"mean {_num(training.get('best_eval_mean'))}, stopped by {training.get('stopped_by')}.", ""]
    else:
        lines += ["No training in this run.", ""]

    rows = _lm_rows(data)
    if rows:
        lines += ["## LM calls, tokens and time", ""] + _md_table(
            ["agent", "calls", "prompt tokens", "completion tokens", "tokens", "cache hits", "seconds"],
            [(r["agent"], r["calls"], r["prompt"], r["completion"], r["total"], r["cache"], f"{r['seconds']:.1f}")
             for r in rows])  # fmt: skip
    return "\n".join(lines).rstrip() + "\n"


def _tex_name(name: str) -> str:
    ts = typeset(name)
    return ts.latex if ts.latex is not None else r"\texttt{" + name.replace("_", r"\_") + "}"


def write_run_report(run_dir: str | Path, *, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` for one run.

    Args:
        run_dir: A directory written by ``python -m alamp.run`` (finished, failed or interrupted).
        out_dir: Where to write them (default: ``run_dir``).

    Returns:
        ``(html_path, md_path)``.

    Raises:
        FileNotFoundError: ``run_dir`` has no ``run.json``.
    """
    from alamp.run_dir import atomic_write_text

    data = load_run(run_dir)
    target = Path(out_dir) if out_dir is not None else data.path
    html_path, md_path = target / "report.html", target / "report.md"
    atomic_write_text(html_path, render_html(data))
    atomic_write_text(md_path, render_markdown(data))
    return html_path, md_path

