"""Symbol value agent: the number the description gives for one symbol its formulas read.

Engineers write ``a = (F − c·v) / m`` and state the sled's mass in prose ("the sled weighs 2 kg"). When no
parameter carries the symbol ``m``, the text's formulas cannot be used and the Env agent has to translate, which the
small model does badly. This agent is asked one symbol at a time, after the upstream agents, with the formulas that
read it and the parameters found so far (the small model named the lander's dry mass ``dry_mass`` and then
answered null for ``m_dry``; lunar_descent, dev); its answer is kept only when it is a number the text states
(``alamp.symbol_values``). Each call is short and shares its prompt's start (instructions, description) with the
others.
"""

from __future__ import annotations

import dspy

from alamp.schema import Parameter, SymbolValue

__all__ = ["SymbolValueSignature"]


class SymbolValueSignature(dspy.Signature):
    """The description's formulas use the symbol below, but no parameter is named by it. Find the quantity the
    symbol stands for (often one of the parameters, under another name) and give the number the description states
    for it, in the units the formulas use. Answer null when the description gives no fixed number for it (for
    example when it changes during an episode or is set by the controller's choice)."""

    description: str = dspy.InputField(desc="the decision problem, in words")
    parameters: list[Parameter] = dspy.InputField(desc="the constants found so far, under their own names")
    symbol: str = dspy.InputField(desc="the symbol, as the formulas write it")
    formulas: list[str] = dspy.InputField(desc="the description's formulas that read the symbol")
    answer: SymbolValue = dspy.OutputField()
