"""Observation models x = O(z), and the inverse map that GTF uses to force the latent state."""

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class AbstractObservation(eqx.Module):
    """An observation model from latent states (size M) to observations (size d).

    Subclasses define `__call__(z) -> x`, `lift(x) -> ẑ` (the latent state that the data
    implies, used as the GTF forcing target) and `projector(unforced)`, the map P onto the
    latent directions the data determines (the others are left unforced), leaving out the
    observed columns listed in `unforced`.
    """

    @abc.abstractmethod
    def __call__(self, z: Float[Array, " M"]) -> Float[Array, " d"]: ...

    @abc.abstractmethod
    def lift(self, x: Float[Array, " d"]) -> Float[Array, " M"]: ...

    @abc.abstractmethod
    def projector(self, unforced: tuple[int, ...] = ()) -> Float[Array, " M"] | Float[Array, "M M"]:
        """A diagonal (shape (M,)) or dense (shape (M, M)) map onto the forced subspace.

        **Arguments:**

        - `unforced`: observed columns whose error does not force the latent state (their α
            is 0, e.g. a slow variable that should run freely); `()` forces every column.
        """


class IdentityObservation(AbstractObservation):
    """x = z[:d]: the first d latent units are the observations; the others are hidden.

    **Arguments:**

    - `latent_size`: M.
    - `data_size`: d ≤ M.
    """

    latent_size: int = eqx.field(static=True)
    data_size: int = eqx.field(static=True)

    def __init__(self, latent_size: int, data_size: int):
        if not 1 <= data_size <= latent_size:
            raise ValueError(
                f"`latent_size` ({latent_size}) must be at least the data dimension "
                f"({data_size}) for the identity observation model."
            )
        self.latent_size = latent_size
        self.data_size = data_size

    def __call__(self, z):
        return z[..., : self.data_size]

    def lift(self, x):
        pad = [(0, 0)] * (x.ndim - 1) + [(0, self.latent_size - self.data_size)]
        return jnp.pad(x, pad)

    def projector(self, unforced: tuple[int, ...] = ()):
        units = jnp.arange(self.latent_size)
        forced = units < self.data_size
        for column in unforced:
            forced = forced & (units != column)
        return forced.astype(float)


class AffineObservation(AbstractObservation):
    """x = B z + b, learnt; the forcing target is ẑ = pinv(B)(x − b).

    **Arguments:**

    - `latent_size`: M.
    - `data_size`: d.
    - `key`: a PRNG key (B uniform in ±1/sqrt(M), b zero).
    """

    B: Float[Array, "d M"]
    b: Float[Array, " d"]

    def __init__(self, latent_size: int, data_size: int, *, key: PRNGKeyArray):
        if latent_size < 1 or data_size < 1:
            raise ValueError("`latent_size` and `data_size` must be positive.")
        bound = 1.0 / math.sqrt(latent_size)
        self.B = jax.random.uniform(key, (data_size, latent_size), minval=-bound, maxval=bound)
        self.b = jnp.zeros(data_size)

    def __call__(self, z):
        return z @ self.B.T + self.b

    def lift(self, x):
        return (x - self.b) @ jnp.linalg.pinv(self.B).T

    def projector(self, unforced: tuple[int, ...] = ()):
        # pinv(B) W B with W the diagonal 0/1 weight of each observed column: only the errors
        # of the forced columns move the latent state.
        weights = jnp.ones(self.B.shape[0], self.B.dtype)
        if unforced:
            weights = weights.at[jnp.asarray(unforced)].set(0.0)
        return jnp.linalg.pinv(self.B) @ (weights[:, None] * self.B)
