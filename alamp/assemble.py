"""Compatibility module: assembly now lives in :mod:`alamp.assembly` (an ordered registry of named passes).

Kept so that ``from alamp.assemble import assemble`` and saved references keep working.
"""

from alamp.assembly import (
    Assembly,
    AssemblyError,
    action_symbols_in_text,
    assemble,
    constants_in_text,
    env_id_for,
    expand_parameters,
    formulas_in_text,
    parse_assignments,
)
from alamp.assembly.names import names_in as _names_in
from alamp.assembly.names import rename as _rename

__all__ = [
    "Assembly",
    "AssemblyError",
    "action_symbols_in_text",
    "assemble",
    "constants_in_text",
    "env_id_for",
    "expand_parameters",
    "formulas_in_text",
    "parse_assignments",
]
# _names_in and _rename: tests/test_assemble.py imports them by their old private names.
_ = (_names_in, _rename)
