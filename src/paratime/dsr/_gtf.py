"""Generalized teacher forcing (GTF) as a cell, so `paratime.unroll` solves it in parallel.

The forced recurrence is z̃_t = F(z̃_{t-1}) + α P (ẑ_t − F(z̃_{t-1})), where ẑ_t is the latent
state the data implies and P projects onto the latent directions the data determines. For the
identity observation model with M = d this is exactly z̃_t = (1 − α) F(z̃_{t-1}) + α ẑ_t.
Its Jacobian is (I − αP) J_F: the forcing shrinks the linearisation, which is why Newton's
method (DEER) converges in fewer iterations as α grows.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..cells import AbstractCell


class GTFCell(AbstractCell):
    """The GTF-forced version of an autonomous latent cell; its input is the target ẑ_t.

    **Arguments:**

    - `cell`: the latent model F (an `AbstractCell` with `value_and_jacobian`).
    - `alpha`: the forcing strength α in [0, 1] (a scalar array; not trained).
    - `projector`: P, as a diagonal (shape (M,)) or a dense (M, M) matrix.
    """

    cell: AbstractCell
    alpha: Float[Array, ""]
    projector: Float[Array, " M"] | Float[Array, "M M"]

    def _project(self, v: Array) -> Array:
        return self.projector * v if self.projector.ndim == 1 else self.projector @ v

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None] | None:
        """The latent cell's state shape; one input step is a target of that shape."""
        inner = self.cell.expected_shapes()
        if inner is None or not isinstance(inner[0], tuple):
            return None
        return inner[0], inner[0]

    def __call__(self, h: Float[Array, " M"], x: Float[Array, " M"]) -> Float[Array, " M"]:
        f = self.cell(h, None)
        return f + self.alpha * self._project(x - f)

    def value_and_jacobian(self, h, x):
        f, jac = self.cell.value_and_jacobian(h, None)
        value = f + self.alpha * self._project(x - f)
        if self.projector.ndim == 1:
            return value, (1.0 - self.alpha * self.projector)[:, None] * jac
        return value, jac - self.alpha * (self.projector @ jac)

    def value_and_jacobian_diagonal(self, h, x):
        if self.projector.ndim == 2:
            value, jac = self.value_and_jacobian(h, x)
            return value, jnp.diagonal(jac)
        f, diag = self.cell.value_and_jacobian_diagonal(h, None)
        value = f + self.alpha * self._project(x - f)
        return value, (1.0 - self.alpha * self.projector) * diag


class SparseGTFCell(AbstractCell):
    """GTF applied only at some steps: the input is the target ẑ_t with a last entry w_t ∈
    {0, 1}, and the step is z̃_t = F(z̃_{t-1}) + α w_t P (ẑ_t − F(z̃_{t-1})).

    With α = 1 and w_t = 1 every τ-th step this is sparse teacher forcing (STF, the GTF
    paper's baseline; the forced steps replace the observed units by the data); with α < 1
    it is GTF every τ-th step. Its Jacobian is (I − α w_t P) J_F: where α = 1 and P = I it is
    zero, so the forced steps cut the chain Newton's method has to resolve.

    **Arguments:**

    - `cell`: the latent model F.
    - `alpha`: the forcing strength α in [0, 1] at the forced steps.
    - `projector`: P, a diagonal (shape (M,)) or a dense (M, M) matrix.
    """

    cell: AbstractCell
    alpha: Float[Array, ""]
    projector: Float[Array, " M"] | Float[Array, "M M"]

    def _gtf(self) -> GTFCell:
        return GTFCell(self.cell, self.alpha, self.projector)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None] | None:
        """The latent cell's state shape; one input step is (M + 1,): the target, then w_t."""
        inner = self.cell.expected_shapes()
        if inner is None or not isinstance(inner[0], tuple) or len(inner[0]) != 1:
            return None
        return inner[0], (inner[0][0] + 1,)

    def _at(self, x: Array) -> GTFCell:
        return GTFCell(self.cell, self.alpha * x[-1], self.projector)

    def __call__(self, h: Float[Array, " M"], x: Float[Array, " M+1"]) -> Float[Array, " M"]:
        return self._at(x)(h, x[:-1])

    def value_and_jacobian(self, h, x):
        return self._at(x).value_and_jacobian(h, x[:-1])

    def value_and_jacobian_diagonal(self, h, x):
        return self._at(x).value_and_jacobian_diagonal(h, x[:-1])


def forcing_mask(steps: int, interval: int, dtype=jnp.float32) -> Float[Array, " steps"]:
    """w_t for the steps t = 1..`steps` of a window: 1 where t is a multiple of `interval`."""
    t = jnp.arange(1, steps + 1)
    return (t % interval == 0).astype(dtype)


def check_unforced(unforced: tuple[int, ...], data_size: int) -> tuple[int, ...]:
    """`unforced` as a sorted tuple of distinct observed columns, or a `ValueError` naming it.

    **Arguments:**

    - `unforced`: column indices of the observations, each in [0, `data_size`).
    - `data_size`: d, the number of observed columns.

    **Returns:**

    The sorted tuple of distinct columns.
    """
    cols = tuple(unforced)
    ok = all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < data_size for c in cols)
    if not ok or len(set(cols)) < len(cols):
        raise ValueError(
            f"`unforced` must list distinct observed columns in [0, {data_size}); got {unforced!r}."
        )
    return tuple(sorted(cols))


# Up to this size the spectral norms are taken by repeated squaring of JᵀJ (batched matrix
# products); above it by LAPACK's SVD, whose per-matrix overhead then no longer dominates.
SQUARING_MAX_SIZE = 8
SQUARINGS = 16


def spectral_norms(jac: Float[Array, "... M M"]) -> Float[Array, "..."]:
    """The largest singular value of each matrix of a batch.

    For the small Jacobians of DSR models a batched LAPACK SVD spends almost all of its time on
    per-matrix overhead (3 200 SVDs of 5×5 matrices took several times a whole training step on
    a CPU). For M ≤ `SQUARING_MAX_SIZE` the norms come instead from `SQUARINGS` normalised
    squarings of G = JᵀJ: G^(2^k) is dominated by the top eigenvector u₁ (the ratio of the
    next eigenvalue falls as (σ₂/σ₁)^(2^(k+1))), so its largest column is parallel to u₁, and
    the Rayleigh quotient of G there is σ₁². Where σ₂ is so close to σ₁ that the squarings do
    not separate them, the value is still within σ₁ − σ₂ of σ₁. The tests compare it with
    `jnp.linalg.svd`.

    **Arguments:**

    - `jac`: matrices of shape (..., M, M).

    **Returns:**

    The spectral norms, shape (...).
    """
    m = jac.shape[-1]
    if m > SQUARING_MAX_SIZE:
        return jnp.linalg.svd(jac, compute_uv=False)[..., 0]
    batch = jac.shape[:-2]
    # The batch goes last and each product of small matrices is written out entry by entry,
    # as elementwise products of batch vectors that XLA fuses into one loop: a batched matmul
    # runs one small kernel per matrix, and a broadcast multiply-and-sum over a minor axis of
    # length M vectorises poorly (3 200 3×3 norms: 4.4 ms that way, 0.24 ms this way).
    j = jnp.moveaxis(jac.reshape((-1, m, m)), 0, -1)  # (M, M, B)

    def matmul(a, b):
        rows = [[sum(a[i, k] * b[k, c] for k in range(m)) for c in range(m)] for i in range(m)]
        return jnp.stack([jnp.stack(row) for row in rows])

    gram = matmul(jnp.swapaxes(j, 0, 1), j)
    tiny = jnp.finfo(gram.dtype).tiny

    def square(_, p):
        p = matmul(p, p)
        return p / jnp.maximum(jnp.max(jnp.abs(p), axis=(0, 1), keepdims=True), tiny)

    power = jax.lax.fori_loop(0, SQUARINGS, square, gram)
    columns = jnp.sum(power**2, axis=0)  # (M, B): the squared norm of each column
    best = jnp.argmax(columns, axis=0)
    v = jnp.take_along_axis(power, best[None, None, :], axis=1)[:, 0, :]  # (M, B)
    v = v / jnp.maximum(jnp.sqrt(jnp.sum(v**2, axis=0, keepdims=True)), tiny)
    gv = jnp.stack([sum(gram[i, k] * v[k] for k in range(m)) for i in range(m)])
    rayleigh = jnp.sum(v * gv, axis=0)
    return jnp.sqrt(jnp.maximum(rayleigh, 0.0)).reshape(batch)


def jacobian_kappa(
    cell: AbstractCell, states: Float[Array, "T M"], *, max_points: int = 512
) -> Float[Array, ""]:
    """κ, the geometric mean of the spectral norms of F's Jacobians along a trajectory.

    It bounds the norm of the geometric mean of the Jacobian product (the product of spectral
    norms bounds the norm of the product). At most `max_points` evenly spaced states are used.

    **Arguments:**

    - `cell`: the latent model F.
    - `states`: the (forced) trajectory, shape (T, M).
    - `max_points`: subsample to at most this many states.

    **Returns:**

    A positive scalar.
    """
    stride = max(1, states.shape[0] // max_points)
    sub = jax.lax.stop_gradient(states[::stride])
    jac = jax.vmap(lambda z: cell.value_and_jacobian(z, None)[1])(jax.lax.stop_gradient(sub))
    norms = spectral_norms(jac)
    return jnp.exp(jnp.mean(jnp.log(jnp.maximum(norms, 1e-12))))


def adaptive_alpha(
    alpha: Float[Array, ""],
    kappa: Float[Array, ""],
    *,
    gamma: float = 0.999,
    maximum: float = 1.0,
) -> Float[Array, ""]:
    """One aGTF update of α (Hess et al. 2023).

    α_est = min(max(0, 1 − 1/κ), `maximum`); α jumps up to α_est when α_est > α, and
    otherwise decays towards it as α ← γα + (1 − γ)α_est.

    **Arguments:**

    - `alpha`: the current α.
    - `kappa`: the Jacobian norm estimate from `jacobian_kappa`.
    - `gamma`: the decay factor, about 0.999.
    - `maximum`: the largest α (1: none, as in the paper).

    **Returns:**

    The new α.
    """
    est = jnp.clip(1.0 - 1.0 / kappa, 0.0, maximum)
    return jnp.where(est > alpha, est, gamma * alpha + (1.0 - gamma) * est)


def stop_alpha(alpha: Array) -> Array:
    """α as a non-differentiable array (it is a training hyper-parameter, not a weight)."""
    return jax.lax.stop_gradient(jnp.asarray(alpha))
