"""Repair agent: generated environment code plus the checker's error in, fixed code out."""

from __future__ import annotations

import dspy

__all__ = ["RepairSignature"]


class RepairSignature(dspy.Signature):
    """The environment code below failed a check. Fix the cause of the error and return the whole corrected
    Python module. Keep the class, the observation order and the action order."""

    code: str = dspy.InputField(desc="the failing Python module")
    error: str = dspy.InputField(desc="what the checker reported")
    fixed_code: str = dspy.OutputField(desc="the complete corrected module")
