"""SingleModel agent: the baseline, everything in one call."""

from __future__ import annotations

import dspy

from alamp.schema import Assignment, Constraint, MDPModel, Objective, Parameter, SARSpec, Variable

__all__ = ["SingleModelSignature", "SingleModelCodeSignature"]


class SingleModelSignature(dspy.Signature):
    """Model the decision problem as an MDP in one answer: constants (parameters), objectives, variables
    (role state/action/exogenous; low/high are limits, initial the start value or distribution), constraints
    (kind=termination: the condition that ends the episode), the MDP, the controller interface (sar: observations,
    discrete actions with effects as assignments, reward expression) and the ordered update equations of one step."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.OutputField()
    objectives: list[Objective] = dspy.OutputField()
    variables: list[Variable] = dspy.OutputField()
    constraints: list[Constraint] = dspy.OutputField()
    mdp: MDPModel = dspy.OutputField()
    sar: SARSpec = dspy.OutputField()
    updates: list[Assignment] = dspy.OutputField()


class SingleModelCodeSignature(dspy.Signature):
    """Model the decision problem as an MDP and implement it in one answer: the MDP, the controller interface
    (sar: observations, discrete actions, reward expression) and one Python module defining a gymnasium.Env
    subclass whose observation_space is a float32 Box in the order of sar.observations and whose action_space is
    spaces.Discrete in the order of sar.actions; reset calls super().reset(seed=seed) and uses self.np_random."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.OutputField()
    mdp: MDPModel = dspy.OutputField()
    sar: SARSpec = dspy.OutputField()
    code: str = dspy.OutputField(desc="a complete Python module")
