"""The result of an `unroll`: states, a result code and statistics."""

from typing import Any

import equinox as eqx
import numpy as np
from equinox._enum import EnumerationItem  # the class of every item; it has no public name
from jaxtyping import Array, Int, PyTree, Shaped

from ._recurrences import AbstractRecurrence
from ._structures import AbstractStructure, Diagonal


class RESULTS(eqx.Enumeration):
    """Result codes of a solve. Each value is the message raised when `throw=True` (there
    followed by the cause and hints for the solver that failed)."""

    successful = ""
    max_iters_reached = "The Newton solve did not converge within `max_iters` iterations."
    nonfinite = "The solve produced a non-finite value (NaN or Inf)."
    diverged = "The Newton residual grew instead of shrinking: the solve diverged."


class Linearisation(eqx.Module):
    """What a solve hands to its adjoint besides the trajectory: the Jacobians it holds at
    the solution (if any), how the adjoint's linear recurrences are solved, and the solver's
    iteration settings (the defaults of an `IterativeAdjoint` whose own are None). The adjoint
    reads this, never the solver.

    **Fields:**

    - `structure`: the `paratime.structures` layout the solver linearised the cell in (that of
        `jacobians`; an `IterativeAdjoint` without a `preconditioner` preconditions with it).
    - `jacobians`: J_t = ∂f(s_{t−1}, x_t)/∂s_{t−1} at every step of the returned trajectory,
        in `structure`, when the solver ended with them at hand (a Newton solve), else None.
    - `recurrence`: the `paratime.recurrences` strategy of the adjoint's reverse recurrences
        (None: the backend's default).
    - `rtol`, `atol`, `max_iters`: the solver's tolerances and iteration limit.
    - `one_at_a_time_on_cpu`: batched on a CPU, run the adjoint that reads `jacobians` one
        sequence after another (as the Newton solve that left them did).
    """

    structure: AbstractStructure = Diagonal()
    jacobians: Array | None = None
    recurrence: AbstractRecurrence | None = None
    rtol: float | None = None
    atol: float | None = None
    max_iters: int = 100
    one_at_a_time_on_cpu: bool = eqx.field(default=False, static=True)


class _Result(EnumerationItem):
    """A `RESULTS` item that prints by name: `RESULTS.successful`, or one name per element
    of a batch (`RESULTS[successful, diverged]`), or `RESULTS<traced>` under `jit`."""

    def __repr__(self) -> str:
        if self.is_traced():
            return "RESULTS<traced>"
        names = list(RESULTS._name_to_item)  # in the order of their codes
        codes = np.asarray(self._value)
        if codes.ndim == 0:
            return f"RESULTS.{names[int(codes)]}"
        return f"RESULTS[{', '.join(names[int(c)] for c in codes.ravel())}]"

    __str__ = __repr__


def _named(item: Any) -> Any:
    return item if isinstance(item, _Result) else _Result(item._value, RESULTS)


# Every item of RESULTS, a member or one that `RESULTS.where` makes, is a `_Result`: all of
# them print by name and have one PyTree type (loop carries, `lax.cond` branches).
for _name, _item in list(RESULTS._name_to_item.items()):
    RESULTS._name_to_item[_name] = _named(_item)
_where = RESULTS.where
setattr(RESULTS, "where", staticmethod(lambda pred, a, b: _named(_where(pred, a, b))))
del _name, _item


class SolveResult(eqx.Module):
    """What `AbstractSolver.solve` returns (on flattened states).

    **Fields:**

    - `states`: the trajectory s_1..s_T, shape (T, N).
    - `result`: a `RESULTS` item.
    - `stats`: a dict with `num_steps` and `residual` (and solver-specific entries).
    - `linearisation`: what the adjoint needs from the solve (a `Linearisation`: the
        Jacobians at `states` if the solver ended with them at hand, the recurrence strategy
        and tolerances it used); None: the adjoint's defaults (the Jacobians evaluated again,
        diagonal preconditioning, the backend's recurrence, default tolerances).
    """

    states: Array
    result: RESULTS
    stats: dict[str, Any]
    linearisation: Linearisation | None = None


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
