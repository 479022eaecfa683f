"""The tables docs/spec.md shows, generated from the code so they cannot drift.

``python -m alamp.assembly.doc_tables docs/spec.md`` rewrites the blocks between ``<!-- passes:begin -->`` and
``<!-- passes:end -->`` (the assembly passes, from :data:`alamp.assembly.PASSES`) and between
``<!-- functions:begin -->`` and ``<!-- functions:end -->`` (the spec language's functions, from
:data:`alamp.spec.functions.SPEC_FUNCTIONS`); ``--check`` only says whether they are current
(tests/test_assembly_passes.py runs that check).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from alamp.assembly.passes import PASSES
from alamp.exit_codes import ExitCode
from alamp.spec.functions import SPEC_FUNCTIONS

__all__ = ["functions_table", "main", "passes_table", "updated_document"]


def _markdown(text: str) -> str:
    """reST inline literals as Markdown ones, and no pipe that would split a table cell."""
    return text.replace("``", "`").replace("|", "\\|")


def passes_table() -> str:
    """One row per pass, in the order they run: name, kind, what it does, where the rule came from."""
    rows = ["| # | pass | kind | what it does | origin |", "|---|---|---|---|---|"]
    for number, step in enumerate(PASSES, 1):
        origin = (step.origin or "—") + (" **(test task only)**" if step.origin_is_test_task else "")
        rows.append(f"| {number} | `{step.name}` | {step.kind} | {_markdown(step.summary)} | {_markdown(origin)} |")
    return "\n".join(rows)


def functions_table() -> str:
    """One row per function of the spec language: name, arguments, what it computes."""
    rows = ["| function | arguments | what |", "|---|---|---|"]
    for f in SPEC_FUNCTIONS.values():
        if f.params:
            optional = len(f.defaults)
            shown = [p if i < len(f.params) - optional else f"{p}={f.defaults[i - len(f.params) + optional]:g}"
                     for i, p in enumerate(f.params)]  # fmt: skip
            arguments = ", ".join(shown) + (", ..." if f.max_args is None else "")
        else:
            arguments = f"{f.min_args} or more values" if f.max_args is None else f"{f.min_args} values"
        what = f.doc + (" (random)" if f.random else "")
        rows.append(f"| `{f.name}` | {_markdown(arguments)} | {_markdown(what)} |")
    return "\n".join(rows)


_BLOCKS = {"passes": passes_table, "functions": functions_table}


def updated_document(text: str) -> str:
    """``text`` with every generated block replaced by the current table.

    Raises:
        ValueError: If a block's begin or end marker is missing.
    """
    for name, render in _BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no '<!-- {name}:begin -->' ... '<!-- {name}:end -->' block; add the two markers")
        text = pattern.sub(lambda m, render=render: m.group(1) + render() + "\n" + m.group(2), text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check``, verify) the generated tables of a Markdown file."""
    parser = argparse.ArgumentParser(prog="python -m alamp.assembly.doc_tables", description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="the Markdown file, e.g. docs/spec.md")
    parser.add_argument("--check", action="store_true", help="only say whether the tables are current")
    args = parser.parse_args(argv)
    try:
        text = args.path.read_text()
        updated = updated_document(text)
    except (OSError, ValueError) as exc:
        print(f"doc_tables: {args.path}: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if updated == text:
        return int(ExitCode.OK)
    if args.check:
        print(f"doc_tables: {args.path} is out of date; run python -m alamp.assembly.doc_tables {args.path}",
              file=sys.stderr)  # fmt: skip
        return int(ExitCode.INTERNAL)
    args.path.write_text(updated)
    return int(ExitCode.OK)


if __name__ == "__main__":
    raise SystemExit(main())
