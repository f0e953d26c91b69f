"""Checks of solver settings, shared by every solver's `__check_init__`.

Each raises `ValueError` naming the field and what is allowed. Settings may be Python numbers
or (under `jax.vmap`/`jit` of a solver) traced arrays: only concrete values are checked.
"""

import math
from typing import Any

import jax.numpy as jnp
import numpy as np


def default_tolerance(dtype) -> float:
    """eps^(3/4) of the dtype: about 6e-6 in float32 and 2e-12 in float64. The one default
    of every solver's (and the iterative adjoint's) `rtol` and `atol`."""
    return float(jnp.finfo(dtype).eps) ** 0.75


def tolerances(rtol: float | None, atol: float | None, dtype) -> tuple[float, float]:
    """`(rtol, atol)` with None replaced by `default_tolerance(dtype)`."""
    tol = default_tolerance(dtype)
    return (tol if rtol is None else rtol), (tol if atol is None else atol)


def _concrete(value: Any) -> float | None:
    """`value` as a Python float if it is a concrete real number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    try:
        return float(np.asarray(value)) if np.ndim(value) == 0 else None
    except Exception:  # a tracer, or not a number
        return None


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    allow_none: bool = True,
    allow_inf: bool = False,
    what: str = "",
) -> None:
    """A real number ≥ `minimum` (> with `strict`), not NaN, finite unless `allow_inf`."""
    if value is None and allow_none:
        return
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    allowed = (
        f"a number {bound}" + ("" if allow_inf else ", finite") + (" or None" if allow_none else "")
    )
    allowed += f" ({what})" if what else ""
    number = _concrete(value)
    if number is None:
        if isinstance(value, (bool, str)) or value is None or np.ndim(value) != 0:
            raise ValueError(f"`{name}` must be {allowed}; got {value!r}.")
        return  # traced: checked where it is used
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise ValueError(f"`{name}` must be {allowed}; got {value!r}.")
    if number < minimum or (strict and number == minimum):
        raise ValueError(f"`{name}` must be {allowed}; got {value!r}.")


def check_int(name: str, value: Any, *, minimum: int = 1, allow_none: bool = False) -> None:
    """A Python int ≥ `minimum` (bools are not ints here)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        allowed = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {allowed}; got {value!r}.")


def check_tolerances(rtol: Any, atol: Any) -> None:
    check_number("rtol", rtol, what="relative tolerance; None: eps^(3/4) of the dtype")
    check_number("atol", atol, what="absolute tolerance; None: eps^(3/4) of the dtype")
