"""Assembly: the environment spec built from the upstream agents' typed outputs, as an ordered list of named passes.

The embedded 1.5B model writes a whole spec badly in one shot (actions written as state changes, bounds copied
from the start range, undefined names), but it fills small typed lists well. So the Env agent writes only the
ordered update equations, and everything else is assembled here, deterministically, by the passes of
:data:`PASSES` (one module each under ``alamp/assembly/passes/``):

- constants      <- parameters
- state          <- variables with role ``state`` (bounds, initial value or distribution)
- draws          <- variables with role ``exogenous`` whose ``initial`` is a distribution, e.g. ``poisson(lam)``
- actions        <- SAR actions, their effects parsed as assignments (``force = -force_mag``, ``y += 1``)
- observation    <- SAR observations
- reward         <- SAR reward (or an update named ``reward``)
- terminated     <- constraints of kind ``termination`` (the condition that ENDS the episode), else the MDP's
- max_steps      <- MDP horizon

Those are the ``build`` passes. The ``repair`` passes rewrite what a small model writes where the meaning is
unambiguous (``x_next`` in the reward, ``x = x``, action names used as values, ...); each change is recorded in
``Assembly.notes`` and counted in ``Assembly.fired``, and :mod:`alamp.assembly.census` adds the counts up over run
directories, so a rule that no longer fires can be found and deleted.
"""

from alamp.assembly.assembly_pass import Pass, PassKind
from alamp.assembly.census import census
from alamp.assembly.driver import assemble
from alamp.assembly.effects import parse_assignments
from alamp.assembly.parameters import expand_parameters
from alamp.assembly.passes import PASSES, pass_named
from alamp.assembly.result import Assembly, AssemblyError, env_id_for
from alamp.assembly.state import AssemblyState
from alamp.assembly.text import action_symbols_in_text, constants_in_text, formulas_in_text, says_no_early_end

__all__ = [
    "PASSES",
    "Assembly",
    "AssemblyError",
    "AssemblyState",
    "Pass",
    "PassKind",
    "action_symbols_in_text",
    "assemble",
    "census",
    "constants_in_text",
    "env_id_for",
    "expand_parameters",
    "formulas_in_text",
    "parse_assignments",
    "pass_named",
    "says_no_early_end",
]
