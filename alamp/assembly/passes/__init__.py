"""The assembly passes, in the order :func:`alamp.assembly.assemble` runs them: one module per pass.

Each module's docstring says what the pass reads and rewrites, why, and the failure it came from. ``build`` passes
translate the agents' typed outputs into the spec; ``repair`` passes rewrite a small model's slip whose meaning is
unambiguous, and record each change in ``Assembly.notes`` and ``Assembly.fired``.
"""

from alamp.assembly.assembly_pass import Pass
from alamp.assembly.passes import (
    action_copies_of_the_step_dropped,
    action_effects_as_text_states,
    action_identity_updates_dropped,
    action_labels_as_indices,
    action_names_as_indicators,
    action_next_value_sets_state,
    action_prose_ignored,
    action_values_set_the_read_symbol,
    actions_from_sar,
    assigned_parameter_is_state,
    bound_names_as_constants,
    bounded_exogenous_is_uniform,
    build_spec,
    clip_of_next_value_after_update,
    conditional_statement_as_updates,
    constants_from_parameters,
    constants_from_text,
    done_update_terminates,
    draws_from_exogenous,
    float_equality_as_reaching,
    formulas_for_undefined_names,
    horizon_from_parameter,
    identity_updates_dropped,
    if_then_else_as_conditional,
    list_parameters_as_constants,
    mdp_states_as_state,
    next_value_after_its_update,
    next_value_in_reward_termination_observation,
    next_value_update_sets_state,
    no_termination_as_text_says,
    parameter_as_state_start,
    parameter_symbol_aliases,
    reward_as_text_states,
    reward_from_update,
    reward_sign_from_objective,
    reward_termination_observation,
    self_update_is_counter,
    start_from_text_draw,
    start_range_from_text,
    start_range_not_bounds,
    start_true_termination_negated,
    state_from_variables,
    state_variables,
    statement_as_expression,
    termination_from_mdp,
    text_action_symbol_is_action,
    unread_partial_action_variables_dropped,
    updates_from_env_agent,
)

__all__ = ["PASSES", "pass_named"]

PASSES: tuple[Pass, ...] = tuple(
    module.PASS
    for module in (
        # state variables and constants
        state_variables,
        mdp_states_as_state,
        list_parameters_as_constants,
        parameter_as_state_start,
        constants_from_parameters,
        parameter_symbol_aliases,
        start_range_from_text,
        start_from_text_draw,
        start_range_not_bounds,
        state_from_variables,
        bounded_exogenous_is_uniform,
        draws_from_exogenous,
        # actions
        actions_from_sar,
        action_effects_as_text_states,
        action_prose_ignored,
        action_identity_updates_dropped,
        action_next_value_sets_state,
        # the Env agent's updates
        updates_from_env_agent,
        conditional_statement_as_updates,
        action_copies_of_the_step_dropped,
        identity_updates_dropped,
        statement_as_expression,
        next_value_update_sets_state,
        clip_of_next_value_after_update,
        # reward, termination, observation
        reward_termination_observation,
        if_then_else_as_conditional,
        reward_from_update,
        reward_sign_from_objective,
        reward_as_text_states,
        termination_from_mdp,
        done_update_terminates,
        no_termination_as_text_says,
        # names read as values
        action_labels_as_indices,
        action_names_as_indicators,
        next_value_after_its_update,
        next_value_in_reward_termination_observation,
        text_action_symbol_is_action,
        constants_from_text,
        bound_names_as_constants,
        action_values_set_the_read_symbol,
        formulas_for_undefined_names,
        unread_partial_action_variables_dropped,
        self_update_is_counter,
        assigned_parameter_is_state,
        horizon_from_parameter,
        # the spec, and the rewrites that need it compiled
        build_spec,
        float_equality_as_reaching,
        start_true_termination_negated,
    )
)
"""Every pass, in order."""


def pass_named(name: str) -> Pass:
    """The pass called ``name``.

    Raises:
        KeyError: If no pass has that name (the message lists the names).
    """
    for step in PASSES:
        if step.name == name:
            return step
    raise KeyError(f"no assembly pass named {name!r}; the passes are {[p.name for p in PASSES]}")
