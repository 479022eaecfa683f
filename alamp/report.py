"""Reports: ``python -m alamp.report <dir>``. A run directory (it holds ``run.json``) gets its own report
(``report.html`` and ``report.md``, see :mod:`alamp.run_report`); any other directory is read as a multirun and
aggregated into the paper's tables.

Multirun input: a directory (usually ``multirun/<date>/<time>``) holding one job directory per run, each with a
``run.json`` written by ``alamp.run``. The directory is searched recursively, so nested sweeps and plain ``runs/``
folders work. A job directory with a ``.hydra/`` folder but no ``run.json`` is a job that crashed: it counts as a run
that failed every level (``errors`` column), because the pipeline did not deliver.

Fields read from ``run.json`` (all optional; missing ones are taken from the job's ``.hydra/config.yaml`` or
left empty):

- ``task`` (or ``task_id``), ``pipeline``, ``seed``;
- ``verdict``: ``modeled``, ``coded``, ``trained``, ``policy_success`` (booleans), ``normalized_return``,
  ``modeling_score``, ``fidelity``, ``start_fidelity`` (floats), ``failed_level``;
- LM usage: ``lm.calls`` / ``lm.total_tokens`` (totals), else the sum over ``lm.per_agent`` (or ``usage`` /
  ``lm_usage`` / ``agents``) of ``calls`` and ``total_tokens`` (or ``prompt_tokens + completion_tokens``);
- wall time: ``wall_time_s`` (or ``wall_s``, ``timings.total_s``).

Grouping: by task × pipeline × every other override that varies in the multirun (read from each job's
``.hydra/overrides.yaml``; for runs without one, the ``coding`` route and the LM model recorded in ``run.json``).
``seed`` never splits a group: seeds are the replicates a rate is computed over. A sweep over ``coding`` × ``lm``
gives one row per combination, labelled ``coding=llm, lm=openai`` in the ``setting`` column.

Output: per group (and pooled over tasks per pipeline and setting): n, modeled / coded / policy-success rates with
95% Wilson intervals, mean normalized return, mean fidelity and start fidelity, mean LM calls, tokens and wall time;
printed as Markdown and written to ``report.md``, ``report.json`` and a bar chart ``report.png`` next to the input.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RunRecord",
    "Rate",
    "ReportRow",
    "wilson_interval",
    "collect_runs",
    "aggregate",
    "varying_settings",
    "to_markdown",
    "plot_report",
    "write_report",
    "main",
]

LEVELS: tuple[str, ...] = ("modeled", "coded", "policy_success")
ALL_TASKS = "all"


def wilson_interval(successes: int, n: int, *, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95% by default).

    Hand-rolled (three lines) rather than pulling statsmodels/scipy into the runtime for one formula; the tests check
    it against values worked by hand.

    Args:
        successes: Number of successes.
        n: Number of trials; 0 gives the uninformative interval ``(0, 1)``.
        z: Normal quantile (1.96 for 95%).

    Returns:
        ``(low, high)``, within [0, 1].
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must be between 0 and n={n}")
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


@dataclass
class RunRecord:
    """What the report needs from one run."""

    path: str
    task: str
    pipeline: str
    seed: int | None = None
    modeled: bool = False
    coded: bool = False
    trained: bool = False
    policy_success: bool = False
    normalized_return: float | None = None
    modeling_score: float | None = None
    fidelity: float | None = None
    start_fidelity: float | None = None
    failed_level: str | None = None
    lm_calls: int | None = None
    tokens: int | None = None
    wall_time_s: float | None = None
    errored: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    """The job's other overrides (``coding``, ``lm``, ...): what a sweep varies besides task, pipeline and seed."""


@dataclass
class Rate:
    """successes / n with its Wilson interval."""

    successes: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.successes / self.n if self.n else float("nan")

    @classmethod
    def of(cls, flags: Sequence[bool]) -> Rate:
        k, n = sum(bool(f) for f in flags), len(flags)
        low, high = wilson_interval(k, n)
        return cls(successes=k, n=n, low=low, high=high)


@dataclass
class ReportRow:
    """One line of the table: a task (or ``all``) × pipeline × setting."""

    task: str
    pipeline: str
    n: int
    errors: int
    rates: dict[str, Rate] = field(default_factory=dict)
    setting: str = ""
    """The varying overrides besides task and pipeline, e.g. ``coding=llm, lm=openai`` (empty when none vary)."""
    normalized_return: float | None = None
    modeling_score: float | None = None
    fidelity: float | None = None
    start_fidelity: float | None = None
    lm_calls: float | None = None
    tokens: float | None = None
    wall_time_s: float | None = None


def _get(mapping: Any, *path: str) -> Any:
    value = mapping
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _usage_totals(run: Mapping[str, Any]) -> tuple[int | None, int | None]:
    lm = run.get("lm") if isinstance(run.get("lm"), Mapping) else {}
    calls = _first(_get(lm, "calls"), run.get("lm_calls"), _get(run, "totals", "lm_calls"))
    tokens = _first(_get(lm, "total_tokens"), _get(lm, "tokens"), run.get("tokens"), _get(run, "totals", "tokens"))
    if calls is not None and tokens is not None:
        return int(calls), int(tokens)
    per_agent = _first(_get(lm, "per_agent"), run.get("usage"), run.get("lm_usage"), run.get("agents"))
    if isinstance(per_agent, Mapping) and per_agent:
        agent_calls = agent_tokens = 0
        for usage in per_agent.values():
            if not isinstance(usage, Mapping):
                continue
            agent_calls += int(usage.get("calls", usage.get("lm_calls", 0)) or 0)
            total = usage.get("total_tokens", usage.get("tokens"))
            if total is None:
                total = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
            agent_tokens += int(total or 0)
        calls = agent_calls if calls is None else calls
        tokens = agent_tokens if tokens is None else tokens
    return (int(calls) if calls is not None else None, int(tokens) if tokens is not None else None)


def _hydra_overrides(job_dir: Path) -> dict[str, Any]:
    """task / pipeline / seed from the job's composed Hydra config, for runs whose run.json lacks them."""
    config = job_dir / ".hydra" / "config.yaml"
    if not config.exists():
        return {}
    try:
        import yaml

        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except Exception:  # a broken config must not break the report
        return {}
    task, pipeline = data.get("task"), data.get("pipeline")
    if isinstance(task, Mapping):
        task = task.get("id") or task.get("name")
    if isinstance(pipeline, Mapping):  # conf/pipeline/<name>.yaml is a group: its ``name`` is the choice
        pipeline = pipeline.get("name")
    return {"task": task, "pipeline": pipeline, "seed": data.get("seed")}


# Overrides that never split a group: replicates (seed), where things go, and how a job was started.
_NOT_A_SETTING = ("task", "pipeline", "seed", "resume", "progress")
_NOT_A_SETTING_PREFIXES = ("hydra.", "paths.", "logger", "lm_cache")


def _job_settings(job_dir: Path, run: Mapping[str, Any]) -> dict[str, str]:
    """The job's overrides other than task, pipeline and seed (``.hydra/overrides.yaml``), else what ``run.json``
    records of the route and the LM."""
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    if overrides_file.is_file():
        try:
            import yaml

            items = yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or []
        except Exception:  # a broken file must not break the report
            items = []
        settings: dict[str, str] = {}
        for item in items if isinstance(items, list) else []:
            key, sep, value = str(item).partition("=")
            key = key.lstrip("+~")
            if not sep or key in _NOT_A_SETTING or key.startswith(_NOT_A_SETTING_PREFIXES):
                continue
            settings[key] = value
        return settings
    settings = {}
    if run.get("coding"):
        settings["coding"] = str(run["coding"])
    model = _get(run, "lm_config", "model")
    if model:
        settings["lm"] = str(model)
    return settings


def _record_from_run(path: Path, run: Mapping[str, Any]) -> RunRecord:
    job = path.parent
    fallback = _hydra_overrides(job)
    task = run.get("task")
    if isinstance(task, Mapping):
        task = task.get("id")
    verdict = run.get("verdict") if isinstance(run.get("verdict"), Mapping) else {}
    calls, tokens = _usage_totals(run)
    wall = _first(
        run.get("wall_time_s"), run.get("wall_s"), _get(run, "timings", "total_s"), _get(run, "timings", "total")
    )
    seed = _first(run.get("seed"), fallback.get("seed"))
    return RunRecord(
        path=str(job),
        task=str(_first(task, run.get("task_id"), fallback.get("task"), "?")),
        pipeline=str(_first(run.get("pipeline"), fallback.get("pipeline"), "?")),
        seed=int(seed) if seed is not None else None,
        modeled=bool(verdict.get("modeled", False)),
        coded=bool(verdict.get("coded", False)),
        trained=bool(verdict.get("trained", False)),
        policy_success=bool(verdict.get("policy_success", False)),
        normalized_return=_float(verdict.get("normalized_return")),
        modeling_score=_float(verdict.get("modeling_score")),
        fidelity=_float(verdict.get("fidelity")),
        start_fidelity=_float(verdict.get("start_fidelity")),
        failed_level=verdict.get("failed_level"),
        lm_calls=calls,
        tokens=tokens,
        wall_time_s=_float(wall),
        errored=not verdict,
        settings=_job_settings(job, run),
    )


def collect_runs(root: str | Path) -> list[RunRecord]:
    """Read every run under ``root``: each ``run.json``, and each crashed Hydra job (``.hydra/`` without run.json).

    Args:
        root: A multirun directory (or any directory of run directories).

    Returns:
        Records sorted by task, pipeline, seed.

    Raises:
        FileNotFoundError: If ``root`` does not exist.
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(
            f"{base} is not a directory; pass the multirun directory (e.g. multirun/2025-01-01/12-00-00)"
        )
    records: list[RunRecord] = []
    seen_jobs: set[Path] = set()
    for path in sorted(base.rglob("run.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            run = {}
        records.append(_record_from_run(path, run if isinstance(run, Mapping) else {}))
        seen_jobs.add(path.parent.resolve())
    for hydra_dir in sorted(base.rglob(".hydra")):
        job = hydra_dir.parent
        # A job that delivered writes run.json in its own dir or below it (a run subfolder).
        if any(seen == job.resolve() or job.resolve() in seen.parents for seen in seen_jobs):
            continue
        if (hydra_dir / "config.yaml").exists() and job != base:
            records.append(_record_from_run(job / "run.json", {}))
    return sorted(records, key=lambda r: (r.task, r.pipeline, r.seed if r.seed is not None else -1, r.path))


def _mean(values: Iterable[float | int | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _row(task: str, pipeline: str, runs: Sequence[RunRecord], *, setting: str = "") -> ReportRow:
    return ReportRow(
        task=task,
        pipeline=pipeline,
        setting=setting,
        n=len(runs),
        errors=sum(r.errored for r in runs),
        rates={level: Rate.of([getattr(r, level) for r in runs]) for level in LEVELS},
        # A run that never trained has no return; it scores 0 (random-policy level), not "missing".
        normalized_return=_mean(r.normalized_return if r.normalized_return is not None else 0.0 for r in runs),
        modeling_score=_mean(r.modeling_score for r in runs),
        fidelity=_mean(r.fidelity for r in runs),
        start_fidelity=_mean(r.start_fidelity for r in runs),
        lm_calls=_mean(r.lm_calls for r in runs),
        tokens=_mean(r.tokens for r in runs),
        wall_time_s=_mean(r.wall_time_s for r in runs),
    )


def varying_settings(records: Sequence[RunRecord]) -> list[str]:
    """The override keys (besides task, pipeline, seed) whose value differs between runs, sorted."""
    keys = {key for record in records for key in record.settings}
    return sorted(key for key in keys if len({record.settings.get(key) for record in records}) > 1)


def _setting(record: RunRecord, keys: Sequence[str]) -> str:
    return ", ".join(f"{key}={record.settings.get(key, '–')}" for key in keys)


def aggregate(records: Sequence[RunRecord], *, pooled: bool = True) -> list[ReportRow]:
    """Group runs by task × pipeline × the other overrides that vary, and compute rates, intervals and means.

    Args:
        records: From :func:`collect_runs`.
        pooled: Also add one row per pipeline × setting over all tasks (task ``all``).

    Returns:
        Rows sorted by task, pipeline and setting; pooled rows last.
    """
    keys = varying_settings(records)
    groups: dict[tuple[str, str, str], list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.task, record.pipeline, _setting(record, keys)), []).append(record)
    rows = [_row(task, pipeline, runs, setting=setting) for (task, pipeline, setting), runs in sorted(groups.items())]
    if pooled and len({r.task for r in records}) > 1:
        by_pipeline: dict[tuple[str, str], list[RunRecord]] = {}
        for record in records:
            by_pipeline.setdefault((record.pipeline, _setting(record, keys)), []).append(record)
        for (pipeline, setting), runs in sorted(by_pipeline.items()):
            rows.append(_row(ALL_TASKS, pipeline, runs, setting=setting))
    return rows


def _fmt_rate(rate: Rate) -> str:
    if rate.n == 0:
        return "–"
    return f"{rate.value:.2f} ({rate.successes}/{rate.n}) [{rate.low:.2f}, {rate.high:.2f}]"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def to_markdown(rows: Sequence[ReportRow], *, title: str | None = None) -> str:
    """Render rows as a Markdown table (rates: value (k/n) [95% Wilson interval]); a ``setting`` column when a
    sweep varies more than task and pipeline."""
    with_setting = any(row.setting for row in rows)
    header = [
        "task", "pipeline", *(["setting"] if with_setting else []), "n", "errors", "modeled", "coded", "policy success",
        "norm. return", "modeling score", "fidelity", "start fid.", "LM calls", "tokens", "wall (s)",
    ]
    lines = [f"## {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [
            f"**{row.task}**" if row.task == ALL_TASKS else row.task,
            row.pipeline,
            *([row.setting] if with_setting else []),
            str(row.n),
            str(row.errors),
            *(_fmt_rate(row.rates[level]) for level in LEVELS),
            _fmt(row.normalized_return),
            _fmt(row.modeling_score),
            _fmt(row.fidelity),
            _fmt(row.start_fidelity),
            _fmt(row.lm_calls, 1),
            _fmt(row.tokens, 0),
            _fmt(row.wall_time_s, 1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rates: value (successes/n) [95% Wilson interval]. Means over the n runs; a run that never trained counts as "
        "normalized return 0. errors: jobs that crashed before a verdict (counted as failures).",
    ]
    return "\n".join(lines) + "\n"


def _series(row: ReportRow) -> str:
    return f"{row.pipeline} ({row.setting})" if row.setting else row.pipeline


def plot_report(rows: Sequence[ReportRow], path: str | Path) -> Path:
    """Grouped bar chart: one panel per level (modeled, coded, policy success), tasks on x, a bar per pipeline,
    Wilson intervals as error bars.

    Returns:
        The PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r.task for r in rows))
    pipelines = list(dict.fromkeys(_series(r) for r in rows))  # one bar series per pipeline (× setting)
    by_key = {(r.task, _series(r)): r for r in rows}
    width = 0.8 / max(1, len(pipelines))
    fig, axes = plt.subplots(1, len(LEVELS), figsize=(4.2 * len(LEVELS), 3.8), sharey=True)
    for ax, level in zip(axes, LEVELS, strict=True):
        for j, pipeline in enumerate(pipelines):
            xs, heights, lows, highs = [], [], [], []
            for i, task in enumerate(tasks):
                row = by_key.get((task, pipeline))
                if row is None or row.rates[level].n == 0:
                    continue
                rate = row.rates[level]
                xs.append(i - 0.4 + width * (j + 0.5))
                heights.append(rate.value)
                # max(0, ...): at k = n the interval's end can fall a rounding error short of the value.
                lows.append(max(0.0, rate.value - rate.low))
                highs.append(max(0.0, rate.high - rate.value))
            ax.bar(xs, heights, width=width * 0.95, label=pipeline, yerr=[lows, highs], capsize=3)
        ax.set_title(level.replace("_", " "))
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels(tasks, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("rate (95% Wilson interval)")
    axes[-1].legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_report(
    root: str | Path, *, out_dir: str | Path | None = None, plot: bool = True
) -> tuple[str, dict[str, Path]]:
    """Collect, aggregate and write ``report.md``, ``report.json`` (and ``report.png``).

    Args:
        root: The multirun directory.
        out_dir: Where to write (default: ``root``).
        plot: Also draw the bar chart.

    Returns:
        ``(markdown, {"md": path, "json": path, "png": path})``.

    Raises:
        FileNotFoundError: If ``root`` holds no runs.
    """
    records = collect_runs(root)
    if not records:
        raise FileNotFoundError(
            f"no runs under {root}: expected job directories with run.json (python -m alamp.experiment -m ...)"
        )
    rows = aggregate(records)
    markdown = to_markdown(rows, title=f"alamp results: {Path(root).name} ({len(records)} runs)")
    target = Path(out_dir) if out_dir is not None else Path(root)
    target.mkdir(parents=True, exist_ok=True)
    paths = {"md": target / "report.md", "json": target / "report.json"}
    paths["md"].write_text(markdown, encoding="utf-8")
    payload = {
        "rows": [
            {**asdict(row), "rates": {k: {**asdict(v), "value": v.value} for k, v in row.rates.items()}} for row in rows
        ],
        "runs": [asdict(r) for r in records],
    }
    paths["json"].write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    if plot:
        paths["png"] = plot_report(rows, target / "report.png")
    return markdown, paths


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m alamp.report <run dir | multirun dir> [--out DIR] [--no-plot]``."""
    parser = argparse.ArgumentParser(prog="python -m alamp.report", description=__doc__.split("\n")[0])
    parser.add_argument(
        "root", help="a run directory (report.html + report.md) or a multirun directory (multirun/<date>/<time>)"
    )
    parser.add_argument("--out", default=None, help="output directory (default: the input directory)")
    parser.add_argument("--no-plot", action="store_true", help="multirun: skip the PNG bar chart")
    args = parser.parse_args(argv)
    from alamp.run_report import is_run_dir, write_run_report

    try:
        if is_run_dir(args.root):
            html_path, md_path = write_run_report(args.root, out_dir=args.out)
            print(f"written: {html_path}, {md_path}")
            return 0
        markdown, paths = write_report(args.root, out_dir=args.out, plot=not args.no_plot)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown)
    print("written: " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
