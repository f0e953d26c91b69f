"""`lyapunov`: how predictable a cell is along a trajectory, from its Jacobians.

Newton's method over the whole trajectory (DEER) converges in a few iterations when the
cell contracts along the trajectory and needs up to T iterations when it expands: the
largest Lyapunov exponent λ₁ decides (Gonzalez et al., 2025). λ₁ < 0: perturbations die
out, Newton is fast; λ₁ > 0: they grow like exp(λ₁ t), and the parallel solve needs O(T)
iterations or fails.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array, Float, Inexact, PyTree

from ._flat import FlatCell
from ._solver._newton import shift_in
from ._solver._sequential import scan_states
from ._state import flat_state
from ._structures import BlockDiagonal, Diagonal


class Lyapunov(eqx.Module):
    """What `paratime.lyapunov` returns (all per step: divide by the step's time for rates
    per unit time).

    **Fields:**

    - `exponents`: the Lyapunov spectrum along the trajectory, largest first, shape (N,):
        the mean log growth per step of N orthogonal perturbations (QR recursion).
    - `max_norm`: max_t ‖J_t‖₂, the largest one-step gain (spectral norm of the Jacobian).
        Below 1 the cell contracts at every step, and Newton converges fast whatever T.
    - `mean_log_norm`: mean_t log ‖J_t‖₂, an upper bound on λ₁.
    """

    exponents: Float[Array, " N"]
    max_norm: Float[Array, ""]
    mean_log_norm: Float[Array, ""]

    @property
    def largest(self) -> Float[Array, ""]:
        """λ₁, the largest Lyapunov exponent per step."""
        return self.exponents[0]


def _qr_exponents(jac: Inexact[Array, "T k k"]) -> Float[Array, " k"]:
    """The mean log |diag R_t| of the QR recursion Q_t R_t = J_t Q_{t−1} (sorted, largest
    first): the Lyapunov spectrum of the product J_T ⋯ J_1."""
    k = jac.shape[-1]

    def step(q, a):
        q, r = jnp.linalg.qr(a @ q)
        return q, jnp.log(jnp.abs(jnp.diagonal(r)))

    _, logs = lax.scan(step, jnp.eye(k, dtype=jac.dtype), jac)
    return -jnp.sort(-jnp.mean(logs, axis=0))


def lyapunov(
    cell: Callable[[Any, Any], Any],
    h0: PyTree[Inexact[Array, "..."]],
    xs: PyTree[Array],
    *,
    states: PyTree[Inexact[Array, "T ..."]] | None = None,
) -> Lyapunov:
    """The Lyapunov exponents of `cell` along the trajectory from `h0` driven by `xs`, and
    how contractive it is there.

    The Jacobians J_t = ∂cell(h_{t−1}, x_t)/∂h_{t−1} are evaluated at every step in the
    cell's own structure (in parallel over time); the exponents are the mean log growth of
    the QR recursion Q_t R_t = J_t Q_{t−1}. For a diagonal Jacobian they are the mean of
    log |J_t| per component, a parallel reduction; for k×k blocks, one k×k recursion per
    block; dense Jacobians take one N×N QR per step, in sequence.

    **Arguments:**

    - `cell`, `h0`, `xs`: as for `paratime.unroll`.
    - `states`: the trajectory h_1..h_T if you have it (e.g. `unroll(...).states`);
        otherwise it is computed with the sequential scan.

    **Returns:**

    A `Lyapunov` with `exponents` (per step, largest first: `.largest` is λ₁),
    `max_norm` and `mean_log_norm` of the one-step Jacobians.

    **Example:**

    ```python
    import jax, jax.numpy as jnp, paratime
    cell = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (1000, 3))
    lyap = paratime.lyapunov(cell, jnp.zeros(16), xs)
    print(float(lyap.largest), float(lyap.max_norm))  # < 0 and < 1: contractive
    ```
    """
    fs = flat_state(h0)
    flat = FlatCell(cell, fs)
    h0_flat = fs.ravel(h0)
    if states is None:
        s = scan_states(flat, h0_flat, xs, cell_loop=False)
    else:
        s = fs.ravel_trajectory(states)
    structure = flat.structure
    jac = jax.vmap(lambda p, x: flat.linearise(p, x, structure)[1])(shift_in(h0_flat, s), xs)
    if isinstance(structure, Diagonal):
        logs = jnp.log(jnp.abs(jac))
        exponents = -jnp.sort(-jnp.mean(logs, axis=0))
        norms = jnp.max(jnp.abs(jac), axis=-1)
    elif isinstance(structure, BlockDiagonal):
        exponents = jax.vmap(_qr_exponents, in_axes=1)(jac).reshape(-1)
        exponents = -jnp.sort(-exponents)
        norms = jnp.max(jnp.linalg.norm(jac, ord=2, axis=(-2, -1)), axis=-1)
    else:
        dense = structure.to_dense(jac)
        exponents = _qr_exponents(dense)
        norms = jnp.linalg.norm(dense, ord=2, axis=(-2, -1))
    return Lyapunov(exponents, jnp.max(norms), jnp.mean(jnp.log(norms)))
