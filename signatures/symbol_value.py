"""Symbol value agent: which constant one symbol of the description's formulas stands for.

Engineers write ``a = (F − c·v) / m`` and state the sled's mass in prose ("the sled weighs 2 kg"). When no
parameter carries the symbol ``m``, the text's formulas cannot be used and the Env agent has to translate, which the
small model does badly. This agent is asked one symbol at a time, after the upstream agents, with the formulas that
read it and the constants found so far, and picks one of those constants (or none); under constrained decoding the
pick can only be one of their names (``alamp.schema.CHOICE``). It used to be asked for the number itself and answered
the wrong one more often than not (``m = 0.4``, the target position, on positioning_stage, dev; ``25`` for every
symbol of cruise_control, train); picking from the list was right far more often (``alamp.symbol_values``). Each
call is short and shares its prompt's start (instructions, description) with the others. The question naming the
symbol comes last and the constants are short lines: with the symbol as a field before the constants' JSON, the
model's "what it stands for" ignored the symbol ("speed" for every symbol of cruise_control, train).
"""

from __future__ import annotations

import dspy

from alamp.schema import SymbolConstant

__all__ = ["SymbolValueSignature"]


class SymbolValueSignature(dspy.Signature):
    """The description's formulas use the symbol below, but no constant is named by it. Say in a few words what the
    symbol stands for, then which of the constants it is (its name, from the list), or none when it is none of them
    (for example when it changes during an episode or is set by the controller's choice)."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    formulas: list[str] = dspy.InputField(desc="the description's formulas that read the symbol")
    known_constants: list[str] = dspy.InputField(desc="the constants found so far: name = value unit (what it is)")
    question: str = dspy.InputField(desc="the question about the symbol")
    answer: SymbolConstant = dspy.OutputField()
