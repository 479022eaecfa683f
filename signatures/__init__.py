"""DSPy signatures of the A-LAMP agents, one module per agent (installed as ``alamp.signatures``).

Each docstring is the agent's instruction (its prompt); each field is typed with the ``alamp.schema`` models.
Downstream agents receive upstream outputs as typed inputs (the paper's waterfall).
"""

from alamp.signatures.coding import CodingSignature
from alamp.signatures.constraint import ConstraintSignature
from alamp.signatures.env import EnvSignature
from alamp.signatures.env_item import EnvItemSignature
from alamp.signatures.modeling import ModelingSignature
from alamp.signatures.objective import ObjectiveSignature
from alamp.signatures.parameter import ParameterSignature
from alamp.signatures.repair import RepairSignature
from alamp.signatures.sar import SARSignature
from alamp.signatures.single_model import SingleModelCodeSignature, SingleModelSignature
from alamp.signatures.symbol_value import SymbolValueSignature
from alamp.signatures.variable import VariableSignature

__all__ = [
    "ParameterSignature",
    "ObjectiveSignature",
    "VariableSignature",
    "ConstraintSignature",
    "ModelingSignature",
    "SARSignature",
    "EnvSignature",
    "EnvItemSignature",
    "SymbolValueSignature",
    "CodingSignature",
    "RepairSignature",
    "SingleModelSignature",
    "SingleModelCodeSignature",
]
