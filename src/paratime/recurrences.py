"""Recurrence strategies: how one linear recurrence h_t = A_t h_{t−1} + b_t is solved.

`Associative()` (parallel scan, O(log T) depth), `Scan()` (`lax.scan`, the fewest
operations), `Chunked(size, inner=...)` (bounded memory), `Sharded(mesh, axis_name)` (time
split over a device mesh) and `Pallas()` (Pallas kernels, fused Newton iterations; opt-in). A
field of `paratime.linear_recurrence`, `paratime.DEER` and `paratime.QuasiDEER`
(`recurrence=`); None there is the backend's measured default.
"""

from ._engine._kernels._strategy import Pallas as Pallas
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
    "Pallas",
    "Scan",
    "Sharded",
]
