"""Base classes for recurrent cells (defined by the engine, `paratime._cell`)."""

from .._cell import (
    AbstractCell as AbstractCell,
    AbstractLinearCell as AbstractLinearCell,
    scan_cell as scan_cell,
)
