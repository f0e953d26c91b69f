"""Jacobian structures: the layout of one step's transition in a linear recurrence.

`Diagonal()` (N numbers per step), `BlockDiagonal(k)` (N·k) and `Dense()` (N²). A cell declares
the structure of its exact Jacobian (`AbstractCell.jacobian_structure`); `paratime.DEER` solves
with it, `paratime.QuasiDEER(structure=...)` projects onto a cheaper one, and
`paratime.linear_recurrence(..., structure=...)` takes one.
"""

from ._engine._structures import (
    AbstractStructure as AbstractStructure,
    BlockDiagonal as BlockDiagonal,
    Dense as Dense,
    Diagonal as Diagonal,
)

__all__ = [
    "AbstractStructure",
    "BlockDiagonal",
    "Dense",
    "Diagonal",
]
