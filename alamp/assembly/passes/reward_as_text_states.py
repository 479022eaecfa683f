"""Repair: the reward the text writes as a formula replaces the SAR agent's.

Reads ``text_reward`` (``alamp.description.reward_in_text``: "the reward is -c", "reward = min(release, 8) -
3*spill") and rewrites ``reward`` when every name the text's formula reads is defined: a constant, state, draw,
update target or action effect, a name the text gives a formula or a number, the chosen action's symbol, or a state's
next value (``next_load``, resolved by a later pass). Otherwise the SAR agent's reward stays, with a note. The text
is the user's own statement of what is wanted; the SAR agent translated it (``0.1*theta_dot**2 +
0.001*torque_plus_next**2`` for "c = theta^2 + 0.1*theta_dot^2 + 0.001*u^2 ... the reward is -c").

Origin: pendulum_swingup (dev, session 14): reward fidelity 0.00 with the text's reward one line away; the text
reads on train tasks (reservoir, server_autoscaling, thermostat) agree with their gold rewards.
"""

from __future__ import annotations

import re

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.names import names_in
from alamp.assembly.state import AssemblyState
from alamp.text_step import updated_name


def run(state: AssemblyState) -> None:
    text_reward = (state.text_reward or "").strip()
    if not text_reward or text_reward == state.reward.strip():
        return
    known = state.defined(reserved=True) | set(state.text_formulas) | set(state.text_constants)
    known |= set(state.text_action_symbols)
    states = sorted(state.state_names)
    unknown = sorted(n for n in names_in(text_reward) - known if updated_name(n, states) is None)
    if unknown:
        state.note(f"the text's reward {text_reward!r} reads {', '.join(map(repr, unknown))}, which nothing defines; "
                   f"kept the SAR agent's reward {state.reward!r}")  # fmt: skip
        return
    state.fire(f"reward: the text's own {text_reward!r} instead of the SAR agent's {state.reward!r}")
    state.reward = text_reward


PASS = Pass(
    name="reward_as_text_states",
    run=run,
    kind="repair",
    origin="pendulum_swingup (dev, session 14): the SAR agent's reward missed the text's 'the reward is -c'",
    note_pattern=re.compile(r"^reward: the text's own "),
)
