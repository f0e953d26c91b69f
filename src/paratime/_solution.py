"""The result of an `unroll`: states, a result code and statistics."""

from typing import Any

import equinox as eqx
from jaxtyping import Array, Int, PyTree, Shaped

_HINT = (
    " Try `paratime.ELK()` (damped steps stay stable on chaotic cells), `paratime.QuasiDEER()`, "
    "a shorter sequence, more `max_iters`, `fallback='sequential'`, or `paratime.Sequential()`."
)


class RESULTS(eqx.Enumeration):
    """Result codes of a solve. Each value is the message raised when `throw=True`."""

    successful = ""
    max_iters_reached = "The Newton solve did not converge within `max_iters` iterations." + _HINT
    nonfinite = (
        "The Newton iterate became non-finite (NaN or Inf). This usually means the cell is "
        "expanding (positive Lyapunov exponent), so the linearised recurrence overflows." + _HINT
    )
    diverged = "The Newton residual grew instead of shrinking: the solve diverged." + _HINT


class Solution(eqx.Module):
    """What `paratime.unroll` returns.

    **Fields:**

    - `states`: the trajectory h_1..h_T, with a leading time axis of length T on every leaf
        (the same PyTree structure as `h0`).
    - `result`: a `paratime.RESULTS` item; `RESULTS.successful` when the solve converged.
    - `stats`: a dict with `num_steps` (Newton iterations; 0 for `Sequential`) and `residual`
        (the final max |h_t - f(h_{t-1}, x_t)|), plus solver-specific entries.
    """

    states: PyTree[Shaped[Array, "T ..."]]
    result: RESULTS
    stats: dict[str, Any]

    @property
    def num_steps(self) -> Int[Array, ""]:
        return self.stats["num_steps"]
