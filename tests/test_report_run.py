"""A run's own report (alamp.run_report): built from real run directories, rendered by a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_runs import env_failed_run, graded_cartpole_run, killed_run, trained_corridor_run

from alamp.report import main
from alamp.run_report import is_run_dir, write_run_report

_MATHML = "{http://www.w3.org/1998/Math/MathML}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    return {
        "graded": graded_cartpole_run(base),
        "corridor": trained_corridor_run(base),
        "env_failed": env_failed_run(base),
        "killed": killed_run(base),
    }


def _report(run_dir: Path) -> tuple[str, str]:
    html_path, md_path = write_run_report(run_dir)
    assert (html_path, md_path) == (run_dir / "report.html", run_dir / "report.md")
    return html_path.read_text(), md_path.read_text()


def _maths(page: str) -> list[ET.Element]:
    """Every <math> element of the page, parsed as XML (so each must be well-formed on its own)."""
    return [ET.fromstring(m) for m in re.findall(r"<math\b.*?</math>", page, flags=re.S)]


def test_graded_run_report_explains_the_verdict_and_typesets_the_model(runs: dict[str, Path]) -> None:
    page, markdown = _report(runs["graded"])
    run = json.loads((runs["graded"] / "run.json").read_text())

    # Self-contained: no script, no stylesheet or image fetched from anywhere.
    assert "<script" not in page and "<link" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert "<style>" in page and "<svg" in page and 'aria-label="learning curve"' in page

    # The verdict: three levels reached, policy success failed with the return against the threshold.
    assert page.count('class="level reached"') == 3 and page.count('class="level failed"') == 1
    ret = run["verdict"]["reference_return"]
    assert f"mean return {ret:.4g} on the reference, threshold 475" in page
    assert "start fidelity" in page and "0.75" in page
    assert set(run["verdict"]["fidelity_parts"]) == {"all", "step", "reward", "termination"}
    assert re.search(r"fidelity by part</td><td>step [\d.]+, reward [\d.]+, termination [\d.]+", page)
    assert re.search(r"\| fidelity by part \| step [\d.]+, reward [\d.]+, termination [\d.]+ \|", markdown)
    # The differing start entry, named by its observation: the cart starts at 0, the reference draws it.
    assert re.search(r"<td>0 \(x\)</td><td>[-\d.e]+ ± [\d.e]+</td><td>0 ± 0</td>", page)

    # The model as mathematics: every expression parsed, the transition with a primed θ and a dotted θ.
    maths = _maths(page)
    assert len(maths) > 60 and 'class="unparsed"' not in page
    texts = ["".join(m.itertext()) for m in maths]
    assert "θ′=θ+τ·θ˙" in texts  # theta_next = theta + tau * theta_dot
    assert any(m.find(f".//{_MATHML}mfrac") is not None for m in maths)  # thetaacc's fraction
    assert r"{\theta}' = \theta + \tau \cdot \dot{\theta}" in markdown

    # LM usage per agent, with the totals run.json has.
    assert f"<b>{run['lm']['calls']}</b>" in page and f"<b>{run['lm']['total_tokens']}</b>" in page
    assert "| parameter | 1 |" in markdown


def test_failed_env_run_shows_every_candidate_and_the_checker_messages(runs: dict[str, Path]) -> None:
    page, markdown = _report(runs["env_failed"])
    assert "env_failed" in page and page.count('class="level failed"') == 1
    assert "none of 2 attempt(s) passed; the last failed at &#x27;spec&#x27;" in page
    assert page.count("unknown name &#x27;drift&#x27;") >= 3  # the run's error and both attempts
    assert "No training in this run" in page and "<svg" not in page
    assert "Not graded against a reference" in page
    assert "| 0 | 1 | compiler | failed | spec |" in markdown
    run = json.loads((runs["env_failed"] / "run.json").read_text())
    for folder in run["env"]["candidates"]:  # each attempt's files (spec, checker message), linked
        assert f'<a href="candidates/{folder}/">' in page
    assert run["next_steps"] and all(f"<li><code>{step}" in page for step in run["next_steps"][:1])


def test_ungraded_trained_run_shows_its_own_levels_and_the_curve(runs: dict[str, Path]) -> None:
    page, markdown = _report(runs["corridor"])
    assert page.count('class="level reached"') == 3  # modeled, coded, trained; policy success needs a task
    assert "<svg" in page and "![learning curve](training/curve.png)" in markdown


def test_killed_run_still_gets_a_report(runs: dict[str, Path]) -> None:
    page, _ = _report(runs["killed"])
    assert "did not finish" in page and "badge other" in page
    assert "Formal MDP" in page and "θ" not in page  # the modelling stages before the kill, corridor names
    assert 'class="level failed"' in page  # nothing was modeled completely: SAR never finished


def test_consensus_among_candidates_is_rendered(runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "consensus"
    shutil.copytree(runs["corridor"], run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    run["env"]["consensus"] = {"groups": [3, 1], "members": [[0, 2, 3], [1]], "chosen": 0, "agreement": 0.75}
    (run_dir / "run.json").write_text(json.dumps(run))
    page, markdown = _report(run_dir)
    assert "Candidate agreement" in page and "sizes 3, 1 (candidates 0, 2, 3; candidates 1)" in page
    assert "Candidate 0, of the largest group, was chosen" in page and "<b>0.75</b>" in page
    assert "Candidate agreement: 0.75" in markdown
    run["env"]["consensus"] |= {"pool": "text lines", "members": [["0t", "2t", "3t"], ["1t"]], "chosen": "0t"}
    (run_dir / "run.json").write_text(json.dumps(run))
    page, markdown = _report(run_dir)
    assert "The candidates with the text's own update lines (chosen among first) that passed" in page
    assert "Candidate agreement among those with the text's own update lines: 0.75" in markdown


def test_text_that_is_not_an_expression_is_shown_as_written(runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "prose"
    shutil.copytree(runs["corridor"], run_dir)
    stage = json.loads((run_dir / "stages" / "modeling.json").read_text())
    stage["output"]["mdp"]["reward"] = "minus one for each step <taken>"
    (run_dir / "stages" / "modeling.json").write_text(json.dumps(stage))
    page, markdown = _report(run_dir)
    assert '<code class="unparsed">minus one for each step &lt;taken&gt;</code>' in page
    assert "`minus one for each step <taken>`" in markdown


def test_the_cli_dispatches_on_what_the_directory_holds(runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "cli"
    shutil.copytree(runs["env_failed"], run_dir)
    assert is_run_dir(run_dir) and not is_run_dir(tmp_path)
    assert main([str(run_dir)]) == 0 and (run_dir / "report.html").is_file()
    # The directory above is a "multirun" of that one run: the aggregate tables, as before.
    assert main([str(tmp_path), "--no-plot"]) == 0 and (tmp_path / "report.json").is_file()
    assert main([str(tmp_path / "missing")]) == 2


# --- a real browser ---------------------------------------------------------------------------------------------

_PROBE = """<pre id="probe"></pre><script>
const maths = [...document.getElementsByTagName("math")];
const box = (e) => e ? e.getBoundingClientRect() : {width: 0, height: 0};
const svg = document.querySelector("svg.curve");
document.getElementById("probe").textContent = JSON.stringify({
  maths: maths.length,
  mathml: maths.filter((m) => m.namespaceURI === "http://www.w3.org/1998/Math/MathML").length,
  laid_out: maths.filter((m) => box(m).width > 0 && box(m).height > 0).length,
  fraction_height: box(document.querySelector("mfrac")).height,
  identifier_height: box(document.querySelector("mi")).height,
  curve_width: box(svg).width, curve_height: box(svg).height,
  curve_paths: svg ? svg.querySelectorAll("path").length : 0,
});
</script>"""


def _browser() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def test_a_headless_browser_renders_the_curve_and_the_mathematics(runs: dict[str, Path], tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        if os.environ.get("ALAMP_REQUIRE_BROWSER"):
            pytest.fail("ALAMP_REQUIRE_BROWSER is set but no chromium is installed (.ci/run installs it)")
        pytest.skip("no headless browser: apt-get install chromium (CI installs it and sets ALAMP_REQUIRE_BROWSER)")
    html_path, _ = write_run_report(runs["graded"])
    probe = tmp_path / "probe.html"
    probe.write_text(html_path.read_text().replace("</body>", _PROBE + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1200,900", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    match = re.search(r'<pre id="probe">(\{.*?\})</pre>', result.stdout)
    assert match, f"the page did not load in {browser}: {result.stderr[-2000:]}"
    seen = json.loads(match.group(1).replace("&quot;", '"'))
    # Every formula is MathML the browser laid out (not unknown tags shown as text).
    assert seen["maths"] > 60 and seen["mathml"] == seen["maths"] and seen["laid_out"] == seen["maths"]
    # A fraction is stacked: taller than a single identifier, as only a MathML layout makes it.
    assert seen["fraction_height"] > 1.6 * seen["identifier_height"] > 0
    # The learning curve is drawn (axes, line, legend are paths) at a readable size.
    assert seen["curve_width"] > 300 and seen["curve_height"] > 150 and seen["curve_paths"] > 10
