"""The PLRNN family as `paratime.cells.AbstractCell`s, with analytic Jacobians.

All three are piecewise-linear maps z_t = F(z_{t-1}) of a latent state z of size M. They are
autonomous: the input `x` of `cell(h, x)` is ignored (the GTF cell in `_gtf.py` adds the
forcing). Their Jacobians are cheap and exact, so DEER never needs autodiff for them.
"""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..cells import AbstractCell


def normalized_positive_definite(m: int, *, key: PRNGKeyArray) -> Float[Array, "M M"]:
    """The initialisation of Talathi and Vartak (2016), used by the PLRNN papers.

    K = RᵀR / M + I for a standard-normal R, divided by its largest eigenvalue, so the
    matrix is symmetric positive definite with spectral radius 1.

    **Arguments:**

    - `m`: the matrix size.
    - `key`: a PRNG key.

    **Returns:**

    An (m, m) matrix.
    """
    r = jax.random.normal(key, (m, m))
    k = r.T @ r / m + jnp.eye(m)
    return k / jnp.max(jnp.abs(jnp.linalg.eigvalsh(k)))


def _uniform(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int) -> Array:
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")


class PLRNN(AbstractCell):
    """The piecewise-linear RNN (Durstewitz 2017; Koppe et al. 2019).

    z_t = A ⊙ z_{t-1} + W ReLU(z_{t-1}) + h, with A diagonal and W off-diagonal.
    Jacobian: diag(A) + W diag(z > 0).

    **Arguments:**

    - `latent_size`: M, the size of z.
    - `key`: a PRNG key. A and W are the diagonal and off-diagonal of a normalised
        positive-definite matrix; h starts at zero.
    """

    A: Float[Array, " M"]
    W: Float[Array, "M M"]
    h: Float[Array, " M"]

    def __init__(self, latent_size: int, *, key: PRNGKeyArray):
        _check_sizes(latent_size=latent_size)
        k = normalized_positive_definite(latent_size, key=key)
        self.A = jnp.diag(k)
        self.W = k - jnp.diag(self.A)
        self.h = jnp.zeros(latent_size)

    def _offdiag(self) -> Array:
        return self.W * (1.0 - jnp.eye(self.W.shape[0], dtype=self.W.dtype))

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`((M,), None)`: the latent state; the input is ignored (any shape works)."""
        return (self.A.shape[0],), None

    def __call__(self, h: Float[Array, " M"], x: Array | None = None) -> Float[Array, " M"]:
        return self.A * h + self._offdiag() @ jax.nn.relu(h) + self.h

    def value_and_jacobian(self, h, x=None):
        w = self._offdiag()
        d = (h > 0).astype(h.dtype)
        return self(h, x), jnp.diag(self.A) + w * d[None, :]

    def value_and_jacobian_diagonal(self, h, x=None):
        # W has a zero diagonal, so the diagonal of the Jacobian is A alone.
        return self(h, x), self.A


class ShallowPLRNN(AbstractCell):
    """The shallow PLRNN (Hess et al. 2023), optionally clipped.

    z_t = A ⊙ z_{t-1} + W1 φ(z_{t-1}) + h1 with φ(z) = ReLU(W2 z + h2), or with
    `clipped=True` φ(z) = ReLU(W2 z + h2) − ReLU(W2 z), which is bounded.
    Jacobian: diag(A) + W1 D W2, where D is the (difference of) ReLU mask(s).

    **Arguments:**

    - `latent_size`: M, the size of z.
    - `hidden_size`: H, the width of the hidden ReLU layer.
    - `clipped`: use the clipped (bounded) nonlinearity.
    - `key`: a PRNG key. A is the diagonal of a normalised positive-definite matrix; W1, W2
        and h2 are uniform in ±1/sqrt(fan-in); h1 starts at zero.
    """

    A: Float[Array, " M"]
    W1: Float[Array, "M H"]
    W2: Float[Array, "H M"]
    h1: Float[Array, " M"]
    h2: Float[Array, " H"]
    clipped: bool = eqx.field(static=True)

    def __init__(
        self, latent_size: int, hidden_size: int, *, clipped: bool = False, key: PRNGKeyArray
    ):
        _check_sizes(latent_size=latent_size, hidden_size=hidden_size)
        ka, k1, k2, kh = jax.random.split(key, 4)
        self.A = jnp.diag(normalized_positive_definite(latent_size, key=ka))
        self.W1 = _uniform(k1, (latent_size, hidden_size), hidden_size)
        self.W2 = _uniform(k2, (hidden_size, latent_size), latent_size)
        self.h1 = jnp.zeros(latent_size)
        self.h2 = _uniform(kh, (hidden_size,), latent_size)
        self.clipped = clipped

    def _phi_and_mask(self, h: Array) -> tuple[Array, Array]:
        u = self.W2 @ h
        pre = u + self.h2
        phi = jax.nn.relu(pre)
        mask = (pre > 0).astype(h.dtype)
        if self.clipped:
            phi = phi - jax.nn.relu(u)
            mask = mask - (u > 0).astype(h.dtype)
        return phi, mask

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`((M,), None)`: the latent state; the input is ignored (any shape works)."""
        return (self.A.shape[0],), None

    def __call__(self, h: Float[Array, " M"], x: Array | None = None) -> Float[Array, " M"]:
        phi, _ = self._phi_and_mask(h)
        return self.A * h + self.W1 @ phi + self.h1

    def value_and_jacobian(self, h, x=None):
        phi, mask = self._phi_and_mask(h)
        value = self.A * h + self.W1 @ phi + self.h1
        # W1 D W2 = Σ_k mask_k (W1[:, k] ⊗ W2[k, :]): one product of the mask with the H
        # outer products, which do not depend on h, so under `jax.vmap` (many states at once)
        # they are formed once and the Jacobians of all states are one matrix product.
        M = self.A.shape[0]
        outer = jnp.einsum("ik,kj->kij", self.W1, self.W2).reshape(-1, M * M)
        return value, jnp.diag(self.A) + (mask @ outer).reshape(M, M)

    def value_and_jacobian_diagonal(self, h, x=None):
        phi, mask = self._phi_and_mask(h)
        value = self.A * h + self.W1 @ phi + self.h1
        # diag(W1 D W2)_i = sum_k W1[i, k] mask[k] W2[k, i]
        return value, self.A + jnp.einsum("ik,k,ki->i", self.W1, mask, self.W2)


class ALRNN(AbstractCell):
    """The almost-linear RNN (Brenner et al. 2024).

    z_t = A ⊙ z_{t-1} + W Φ*(z_{t-1}) + h, where Φ* is the identity on the first M − P
    units and ReLU on the last P. A is diagonal and W off-diagonal.
    Jacobian: diag(A) + W diag(d), with d = 1 on the linear units and the ReLU mask on the rest.

    **Arguments:**

    - `latent_size`: M, the size of z.
    - `num_relu`: P, how many units (the last ones) pass through a ReLU; 0 ≤ P ≤ M.
    - `key`: a PRNG key (A and W as for `PLRNN`; h starts at zero).
    """

    A: Float[Array, " M"]
    W: Float[Array, "M M"]
    h: Float[Array, " M"]
    num_relu: int = eqx.field(static=True)

    def __init__(self, latent_size: int, num_relu: int, *, key: PRNGKeyArray):
        _check_sizes(latent_size=latent_size)
        if not isinstance(num_relu, int) or not 0 <= num_relu <= latent_size:
            raise ValueError(f"`num_relu` must be an int in [0, {latent_size}]; got {num_relu!r}.")
        k = normalized_positive_definite(latent_size, key=key)
        self.A = jnp.diag(k)
        self.W = k - jnp.diag(self.A)
        self.h = jnp.zeros(latent_size)
        self.num_relu = num_relu

    def _slope(self, h: Array) -> Array:
        linear = jnp.arange(h.shape[0]) < h.shape[0] - self.num_relu
        return jnp.where(linear, 1.0, (h > 0).astype(h.dtype)).astype(h.dtype)

    def _offdiag(self) -> Array:
        return self.W * (1.0 - jnp.eye(self.W.shape[0], dtype=self.W.dtype))

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`((M,), None)`: the latent state; the input is ignored (any shape works)."""
        return (self.A.shape[0],), None

    def __call__(self, h: Float[Array, " M"], x: Array | None = None) -> Float[Array, " M"]:
        # Φ*(z) = slope(z) * z, since ReLU(z) = 1[z > 0] z.
        return self.A * h + self._offdiag() @ (self._slope(h) * h) + self.h

    def value_and_jacobian(self, h, x=None):
        return self(h, x), jnp.diag(self.A) + self._offdiag() * self._slope(h)[None, :]

    def value_and_jacobian_diagonal(self, h, x=None):
        return self(h, x), self.A
