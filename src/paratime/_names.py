"""One spelling per solver, shared by every command line and config file."""

import difflib
import enum
from collections.abc import Callable
from typing import Any

from ._engine import (
    DEER,
    ELK,
    AbstractSolver,
    Auto,
    ImplicitAdjoint,
    LinearScan,
    Parareal,
    QuasiDEER,
    Sequential,
)


class SolverName(str, enum.Enum):
    """The name of each solver on the command line and in config files (lower case, words
    joined by `-`). `make_solver` turns a name into the solver."""

    sequential = "sequential"
    deer = "deer"
    quasi_deer = "quasi-deer"
    elk = "elk"
    quasi_elk = "quasi-elk"
    parareal = "parareal"
    implicit_sequential = "implicit-sequential"
    linear_scan = "linear-scan"
    auto = "auto"

    def __str__(self) -> str:
        return self.value


_CONSTRUCTORS: dict[SolverName, Callable[..., AbstractSolver]] = {
    SolverName.sequential: Sequential,
    SolverName.deer: DEER,
    SolverName.quasi_deer: QuasiDEER,
    SolverName.elk: ELK,
    SolverName.quasi_elk: lambda **kw: ELK(diagonal=True, **kw),
    SolverName.parareal: Parareal,
    SolverName.implicit_sequential: lambda **kw: Sequential(adjoint=ImplicitAdjoint(), **kw),
    SolverName.linear_scan: LinearScan,
    SolverName.auto: Auto,
}

SOLVER_NAMES: tuple[str, ...] = tuple(n.value for n in SolverName)


def solver_name(name: "str | SolverName") -> SolverName:
    """`name` as a `SolverName`.

    **Raises:**

    `ValueError` naming the allowed names (and the closest one) for an unknown name.
    """
    if isinstance(name, SolverName):
        return name
    try:
        return SolverName(name)
    except ValueError:
        close = difflib.get_close_matches(str(name).lower(), SOLVER_NAMES, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown solver {name!r}{hint}; expected one of {', '.join(SOLVER_NAMES)}."
        ) from None


def make_solver(name: "str | SolverName", **settings: Any) -> AbstractSolver:
    """The solver called `name` (see `SolverName`), with its default settings updated by
    `settings`.

    **Arguments:**

    - `name`: `"sequential"`, `"deer"`, `"quasi-deer"`, `"elk"`, `"quasi-elk"` (ELK with
        diagonal Jacobians), `"parareal"`, `"implicit-sequential"`, `"linear-scan"` or `"auto"`.
    - `settings`: keyword arguments of the solver's constructor (e.g. `max_iters=50`).

    **Returns:**

    The solver, e.g. `make_solver("quasi-deer")` is `paratime.QuasiDEER()`.

    **Raises:**

    `ValueError` for an unknown name.
    """
    return _CONSTRUCTORS[solver_name(name)](**settings)
