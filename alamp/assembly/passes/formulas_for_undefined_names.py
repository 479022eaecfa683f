"""Repair: a name read but defined nowhere gets the formula the text or the MDP's transitions give it.

Reads every expression, ``text_formulas`` (see :func:`alamp.assembly.formulas_in_text`: "temp = (F + m*l*...) / M")
and the Modeling agent's ``mdp.transitions`` read the same way; inserts the formulas needed, dependencies first, as
one block of shared updates before the first update that reads any of them. The text's formula wins over the
transitions'. A formula is used only when every name it reads is defined or itself has a usable formula; names
that stay undefined are left for the spec compiler to report. The Env agent writes ``x_dot = x_dot + tau*x_ddot``
and never defines ``x_ddot``, which the text does.

Origin: commit 427b463 (text formulas; cartpole seed 0: the accelerations never defined) and commit 7778510
(transition formulas; wireless seed 0: ``user1_queue = user1_queue_next`` with ``user1_queue_next`` only in the
transitions); the text's constants a formula reads: lunar_descent (dev); a formula read at the old state:
positioning_stage (dev).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_in, names_read
from alamp.assembly.state import AssemblyState
from alamp.assembly.text import formulas_in_text
from alamp.schema import ActionSpec, Assignment


def define_from_formulas(
    *,
    shared: list[Assignment],
    actions: list[ActionSpec],
    others: list[str],
    defined: set[str],
    state: set[str],
    formulas: Mapping[str, tuple[str, str]],
) -> tuple[list[Assignment], list[str]]:
    """Insert the formula of each name that is read but defined nowhere, before its first reader.

    ``formulas`` maps a name to its expression and where the formula comes from (for the note).

    A formula is used only when every name it reads is defined, or is itself defined by a usable text formula (those
    are inserted first). Names that stay undefined are left for the spec compiler to report.
    """
    shared = list(shared)
    notes: list[str] = []

    def is_defined(name: str) -> bool:
        return name in defined or any(u.target == name for u in shared)

    def usable(name: str, seen: frozenset[str]) -> bool:
        if is_defined(name):
            return True
        if name not in formulas or name in seen:
            return False
        return all(usable(n, seen | {name}) for n in names_in(formulas[name][0]))

    # The formulas needed, dependencies first (a depth-first post-order), inserted as one block before the first
    # update that reads any of them (after the updates the block itself reads).
    block: list[str] = []

    def collect(name: str) -> None:
        for dependency in sorted(names_in(formulas[name][0])):
            if not is_defined(dependency) and dependency not in block:
                collect(dependency)
        if name not in block:
            block.append(name)

    for missing in sorted(names_read(shared, actions, others) - defined):
        if not is_defined(missing) and missing not in block and usable(missing, frozenset()):
            collect(missing)
    if not block:
        return shared, notes
    readers = [i for i, u in enumerate(shared) if names_in(u.expr) & set(block)]
    read_by_block = set().union(*(names_in(formulas[name][0]) for name in block))
    # Intermediates the block reads must come first; state variables (and constants, which nothing may assign) it
    # reads are meant at their old values, so the block also goes before the first update of one of them
    # (positioning_stage, dev: "a = (u - k*x - c*x_dot)/m", the acceleration "taken at the old state", was put after
    # "x = x + dt*x_dot", its first reader being the velocity's update; the step then agreed on 3% of pairs).
    needed = [
        i + 1 for i, u in enumerate(shared) if u.target in read_by_block and u.target not in state | defined
    ]
    old_values = [i for i, u in enumerate(shared) if u.target in read_by_block and u.target in state]
    position = max(min([*readers, *old_values], default=len(shared)), max(needed, default=0))
    shared[position:position] = [Assignment(target=name, expr=formulas[name][0]) for name in block]
    notes += [
        f"{name!r} is read but nothing defines it; {formulas[name][1]} its formula: {name} = {formulas[name][0]}"
        for name in block
    ]
    return shared, notes


def run(state: AssemblyState) -> None:
    transitions = formulas_in_text("\n".join(state.mdp.transitions))
    formulas = {name: (expr, "the MDP's transitions give") for name, expr in transitions.items()}
    formulas |= {name: (expr, "the text gives") for name, expr in state.text_formulas.items()}
    # The text's constants come last: a formula the text gives may read one that nothing else reads, so that the
    # constants_from_text pass never added it ("burn = min(Δt·T / v_e, m_f)" reads v_e, which only "v_e = 2500 m/s"
    # defines; lunar_descent, dev). Any formula for the same name wins.
    text_constants = {name: (f"{float(value)!r}", "the text gives") for name, value in state.text_constants.items()}
    formulas = text_constants | formulas
    if not formulas:
        return
    state.shared, notes = define_from_formulas(
        shared=state.shared,
        actions=state.actions,
        others=state.expressions(),
        defined=state.defined(reserved=True),
        state=state.state_names,
        formulas=formulas,
    )
    for note in notes:
        state.fire(note)


PASS = Pass(
    name="formulas_for_undefined_names",
    run=run,
    kind="repair",
    origin="427b463: cartpole seed 0 (text formulas); 7778510: wireless seed 0 (transition formulas); "
    "lunar_descent, dev (the text's constants a formula reads)",
    origin_is_test_task=False,
    note_pattern=re.compile(r"^'[^']*' is read but nothing defines it; (the text|the MDP's transitions) gives? its"),
)
