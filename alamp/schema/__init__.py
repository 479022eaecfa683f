"""Pydantic models for everything the agents pass on."""

from alamp.schema.agents import (
    Constraint,
    ExecutionReport,
    GeneratedCode,
    MDPModel,
    Objective,
    Parameter,
    SARAction,
    SARSpec,
    SymbolConstant,
    Variable,
)
from alamp.schema.env_spec import ActionSpec, Assignment, EnvSpec, RandomDraw, StateVariable

__all__ = [
    "Parameter",
    "Objective",
    "Variable",
    "Constraint",
    "MDPModel",
    "SARAction",
    "SARSpec",
    "StateVariable",
    "RandomDraw",
    "Assignment",
    "ActionSpec",
    "EnvSpec",
    "ExecutionReport",
    "GeneratedCode",
    "SymbolConstant",
]
