"""Parameter initialisers and constructor checks shared by the shipped cells."""

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jaxtyping import Array, PRNGKeyArray


def default_float(dtype=None):
    """The requested float dtype, or JAX's default (float64 when x64 is on, else float32).

    **Raises:**

    `TypeError` naming `dtype` if it is not a real floating-point dtype.
    """
    try:
        requested = np.dtype(jnp.float64 if dtype is None else dtype)
    except TypeError as e:
        raise TypeError(
            f"`dtype` must be a real floating dtype, e.g. jnp.float32; got {dtype!r}."
        ) from e
    if not jnp.issubdtype(requested, jnp.floating):
        raise TypeError(
            f"`dtype` must be a real floating dtype (float16/32/64, bfloat16); got {requested}."
        )
    return jax.dtypes.canonicalize_dtype(requested)


def check_size(name: str, value: Any) -> int:
    """`value` as an int, or a `TypeError`/`ValueError` naming `name` unless it is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"`{name}` must be a positive int; got {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive int (>= 1); got {value}.")
    return int(value)


def check_real(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    open_low=False,
    open_high=False,
) -> float:
    """`value` as a float, or an error naming `name` unless it is finite and in the range."""
    if isinstance(value, Tracer):
        # traced (e.g. under vmap over scales): cannot be checked here, and passes through
        return value  # pyright: ignore[reportReturnType]
    if (
        isinstance(value, jax.Array | np.ndarray)
        and value.shape == ()
        and not jnp.iscomplexobj(value)
    ):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.")
    value = float(value)
    if math.isinf(high):
        allowed = f"a finite number {'>' if open_low else '>='} {low}"
    else:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        allowed = f"a finite number in {left}{low}, {high}{right}"
    too_low = value <= low if open_low else value < low
    too_high = value >= high if open_high else value > high
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"`{name}` must be {allowed}; got {value}.")
    return value


def check_key(key: Any) -> None:
    """A `TypeError` naming `key` unless it is one PRNG key (typed or raw uint32[2])."""
    typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    raw = isinstance(key, jax.Array | np.ndarray) and key.dtype == np.uint32 and key.shape == (2,)
    if not ((typed and key.shape == ()) or raw):
        got = (
            f"an array of shape {key.shape} and dtype {key.dtype}"
            if hasattr(key, "shape")
            else repr(key)
        )
        raise TypeError(f"`key` must be one PRNG key, e.g. jax.random.key(0); got {got}.")


def uniform(key: PRNGKeyArray, shape: tuple[int, ...], bound: float, dtype) -> Array:
    """U(-bound, bound), as PyTorch initialises RNN weights with bound = 1/sqrt(hidden)."""
    return jax.random.uniform(key, shape, dtype, -bound, bound)
