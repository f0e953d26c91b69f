"""Base classes for recurrent cells (defined by the engine, `paratime._engine._cell`)."""

from .._engine import (
    AbstractCell as AbstractCell,
    AbstractLinearCell as AbstractLinearCell,
    scan_cell as scan_cell,
)
