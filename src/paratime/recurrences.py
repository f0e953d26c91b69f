"""Recurrence strategies: how one linear recurrence h_t = A_t h_{t−1} + b_t is solved.

`Associative()` (parallel scan, O(log T) depth), `Scan()` (`lax.scan`, the fewest
operations), `Chunked(size, inner=...)` (bounded memory) and `Sharded(mesh, axis_name)` (time
split over a device mesh). A field of `paratime.linear_recurrence`, `paratime.DEER` and
`paratime.QuasiDEER` (`recurrence=`); None there is the backend's measured default.
"""

from ._engine._recurrences import (
    AbstractRecurrence as AbstractRecurrence,
    Associative as Associative,
    Chunked as Chunked,
    Scan as Scan,
    Sharded as Sharded,
)

__all__ = [
    "AbstractRecurrence",
    "Associative",
    "Chunked",
    "Scan",
    "Sharded",
]
