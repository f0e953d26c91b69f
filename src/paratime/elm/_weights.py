"""Random, frozen ELM weights: input scaling and spectral-radius scaling."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray


def input_weights(
    key: PRNGKeyArray, shape: tuple[int, ...], scaling: float | int, dtype
) -> Float[Array, "..."]:
    """Input weights drawn U(-scaling, scaling), as is usual for reservoirs and ELMs."""
    return jax.random.uniform(key, shape, dtype, -scaling, scaling)


def spectral_radius(w: Float[Array, "N N"]) -> float:
    """The largest |eigenvalue| of a square matrix (computed on the host, once)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, dtype=np.float64)))))


def with_spectral_radius(w: Float[Array, "N N"], radius: float | int) -> Float[Array, "N N"]:
    """Rescale the square matrix `w` so that its spectral radius is exactly `radius`."""
    current = spectral_radius(w)
    if current == 0.0:
        return w
    return (w * (radius / current)).astype(w.dtype)


def recurrent_weights(key: PRNGKeyArray, size: int, radius: float, dtype) -> Float[Array, "N N"]:
    """A random N×N matrix (standard normal entries) rescaled to spectral radius `radius`."""
    return with_spectral_radius(jax.random.normal(key, (size, size), dtype), radius)


def stacked_recurrent_weights(
    key: PRNGKeyArray, gates: int, size: int, radius: float | int, dtype
) -> Float[Array, "GN N"]:
    """`gates` recurrent blocks (for GRU/LSTM), each rescaled to spectral radius `radius`."""
    keys = jax.random.split(key, gates)
    return jnp.concatenate([recurrent_weights(k, size, radius, dtype) for k in keys], axis=0)
