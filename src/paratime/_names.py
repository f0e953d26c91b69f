"""One spelling per solver, shared by every command line and config file."""

import difflib
from collections.abc import Callable
from typing import Any, Literal, cast, get_args

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
from ._engine._fallback import Fallback, check_fallback

SolverName = Literal[
    "sequential",
    "deer",
    "quasi-deer",
    "elk",
    "quasi-elk",
    "parareal",
    "implicit-sequential",
    "linear-scan",
    "auto",
]
"""The name of each solver on the command line and in config files (lower case, words joined
by `-`), as a type: a config field of this type becomes a `--solver` flag with these choices.
`make_solver` turns a name into the solver."""

SOLVER_NAMES: tuple[str, ...] = get_args(SolverName)

_CONSTRUCTORS: dict[str, Callable[..., AbstractSolver]] = {
    "sequential": Sequential,
    "deer": DEER,
    "quasi-deer": QuasiDEER,
    "elk": ELK,
    "quasi-elk": lambda **kw: ELK(diagonal=True, **kw),
    "parareal": Parareal,
    "implicit-sequential": lambda **kw: Sequential(adjoint=ImplicitAdjoint(), **kw),
    "linear-scan": LinearScan,
    "auto": Auto,
}


def solver_name(name: str) -> SolverName:
    """`name` checked against `SOLVER_NAMES`.

    **Raises:**

    `ValueError` naming the allowed names (and the closest one) for an unknown name.
    """
    if name in _CONSTRUCTORS:
        return cast(SolverName, name)
    close = difflib.get_close_matches(str(name).lower(), SOLVER_NAMES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown solver {name!r}{hint}; expected one of {', '.join(SOLVER_NAMES)}.")


def make_solver(name: str, **settings: Any) -> AbstractSolver:
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


FallbackName = Literal["sequential", "elk", "none"]
"""A failure policy on the command line and in config files: `fallback=` of `paratime.unroll`
and the layers, with `"none"` for `None`. `fallback_policy` turns a name into the value."""


def fallback_policy(name: FallbackName) -> Fallback:
    """The `fallback=` value that `name` spells (`"none"` -> `None`)."""
    check_fallback(None if name == "none" else name, allow_auto=False)
    return None if name == "none" else name
