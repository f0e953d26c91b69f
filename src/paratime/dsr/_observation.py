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
    implies, used as the GTF forcing target) and `projector(unforced, partial)`, the map P
    onto the latent directions that the forcing moves, leaving out the observed columns
    listed in `unforced`. `initial_state(x)` is the state a forced window or a free run from
    a data point starts from (`lift(x)` unless the model estimates its hidden units).
    """

    @abc.abstractmethod
    def __call__(self, z: Float[Array, " M"]) -> Float[Array, " d"]: ...

    @abc.abstractmethod
    def lift(self, x: Float[Array, " d"]) -> Float[Array, " M"]: ...

    @abc.abstractmethod
    def projector(
        self, unforced: tuple[int, ...] = (), partial: bool = True
    ) -> Float[Array, " M"] | Float[Array, "M M"]:
        """A diagonal (shape (M,)) or dense (shape (M, M)) map onto the forced subspace.

        **Arguments:**

        - `unforced`: observed columns whose error does not force the latent state (their α
            is 0, e.g. a slow variable that should run freely); `()` forces every column.
        - `partial`: force only the latent directions the data determine (the observed
            units; for the affine model the row space of B). `False` forces every latent
            direction towards `lift(x)`, so the ones the data do not determine are pulled
            towards 0 (the GTF code's `partial_forcing = false`); the directions of the
            `unforced` columns stay free either way.
        """

    def initial_state(self, x: Float[Array, " d"]) -> Float[Array, " M"]:
        """The latent state that a forced window or a free run from the data point `x`
        starts from: `lift(x)`."""
        return self.lift(x)


class IdentityObservation(AbstractObservation):
    """x = z[:d]: the first d latent units are the observations; the others are hidden.

    The forcing target of the hidden units is 0. With `hidden_estimate=True` (and M > d) a
    learnt matrix L of shape (M − d, d) estimates them from the observations where a window
    or a free run starts: `initial_state(x) = [x; L x]` (the GTF code's identity model);
    otherwise they start at 0.

    **Arguments:**

    - `latent_size`: M.
    - `data_size`: d ≤ M.
    - `hidden_estimate`: learn L (uniform in ±1/sqrt(d), as the GTF code initialises it).
    - `key`: a PRNG key, needed with `hidden_estimate=True` and M > d.
    """

    latent_size: int = eqx.field(static=True)
    data_size: int = eqx.field(static=True)
    L: Float[Array, "hidden d"] | None

    def __init__(
        self,
        latent_size: int,
        data_size: int,
        *,
        hidden_estimate: bool = False,
        key: PRNGKeyArray | None = None,
    ):
        if not 1 <= data_size <= latent_size:
            raise ValueError(
                f"`latent_size` ({latent_size}) must be at least the data dimension "
                f"({data_size}) for the identity observation model."
            )
        self.latent_size = latent_size
        self.data_size = data_size
        self.L = None
        if hidden_estimate and latent_size > data_size:
            if key is None:
                raise ValueError("`key` is needed to initialise L (`hidden_estimate=True`).")
            bound = 1.0 / math.sqrt(data_size)
            shape = (latent_size - data_size, data_size)
            self.L = jax.random.uniform(key, shape, minval=-bound, maxval=bound)

    def __call__(self, z):
        return z[..., : self.data_size]

    def lift(self, x):
        pad = [(0, 0)] * (x.ndim - 1) + [(0, self.latent_size - self.data_size)]
        return jnp.pad(x, pad)

    def initial_state(self, x):
        if self.L is None:
            return self.lift(x)
        return jnp.concatenate([x, x @ self.L.T], axis=-1)

    def projector(self, unforced: tuple[int, ...] = (), partial: bool = True):
        units = jnp.arange(self.latent_size)
        forced = units < self.data_size if partial else jnp.full(self.latent_size, True)
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

    def projector(self, unforced: tuple[int, ...] = (), partial: bool = True):
        # pinv(B) W B with W the diagonal 0/1 weight of each observed column: only the errors
        # of the forced columns move the latent state. Not partial: I − pinv(B) (I − W) B,
        # every latent direction but those of the unforced columns.
        weights = jnp.ones(self.B.shape[0], self.B.dtype)
        if unforced:
            weights = weights.at[jnp.asarray(unforced)].set(0.0)
        if not partial:
            eye = jnp.eye(self.B.shape[1], dtype=self.B.dtype)
            return eye - jnp.linalg.pinv(self.B) @ ((1.0 - weights)[:, None] * self.B)
        return jnp.linalg.pinv(self.B) @ (weights[:, None] * self.B)
