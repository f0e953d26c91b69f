"""Parameter initialisers shared by the shipped cells."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray


def default_float(dtype=None):
    """The requested float dtype, or JAX's default (float64 when x64 is on, else float32)."""
    return jax.dtypes.canonicalize_dtype(jnp.float64 if dtype is None else dtype)


def uniform(key: PRNGKeyArray, shape: tuple[int, ...], bound: float, dtype) -> Array:
    """U(-bound, bound), as PyTorch initialises RNN weights with bound = 1/sqrt(hidden)."""
    return jax.random.uniform(key, shape, dtype, -bound, bound)
