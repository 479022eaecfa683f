"""Build: the validated ``EnvSpec`` from the pieces.

Reads every piece; writes ``spec``. Raises :class:`alamp.assembly.AssemblyError` with the validation problems
(duplicate names, bad bounds, no actions) when the pieces make no valid spec.
"""

from __future__ import annotations

from pydantic import ValidationError

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.result import AssemblyError, env_id_for
from alamp.assembly.state import AssemblyState
from alamp.schema import EnvSpec


def run(state: AssemblyState) -> None:
    try:
        state.spec = EnvSpec(
            id=env_id_for(state.name),
            constants=state.constants,
            state=state.state,
            draws=state.draws,
            actions=state.actions,
            updates=state.shared,
            reward=state.reward,
            terminated=state.terminated,
            max_steps=state.max_steps,
            observation=state.observation,
        )
    except ValidationError as exc:
        raise AssemblyError([err["msg"] for err in exc.errors()]) from exc


PASS = Pass(name="build_spec", run=run, kind="build")
