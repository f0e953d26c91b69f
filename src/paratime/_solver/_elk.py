"""ELK: Newton over the trajectory with damped (Levenberg–Marquardt) steps, by Kalman smoothing."""



import jax
import jax.lax as lax
import jax.numpy as jnp

from .._solution import RESULTS
from ._abstract import AbstractSolver, Adjoint
from ._kalman import damped_step
from ._newton import default_tolerance, shift_in


class ELK(AbstractSolver):
    """Damped Newton over the trajectory, stable where DEER diverges (Gonzalez et al., 2024).

    Each step minimises Σ_t ‖s_t − A_t s_{t−1} − b_t‖² + λ‖s − s^(i)‖², the Levenberg–Marquardt
    step on the residual F(s)_t = s_t − f(s_{t−1}, x_t). It is computed as a Kalman smoother
    written as associative scans (O(log T) depth). λ adapts as a trust region: a step that
    lowers ‖F‖² is accepted and λ shrinks; otherwise it is rejected and λ grows. Iterates stay
    finite and ‖F‖ never increases, so on chaotic cells, where the undamped linearisation
    overflows, ELK still converges. Stops on the same tolerance test as DEER.

    **Arguments:**

    - `rtol`, `atol`, `max_iters`: as `DEER` (`max_iters` counts trial steps).
    - `damping`: the initial λ.
    - `diagonal`: use diagonal Jacobians (quasi-ELK: elementwise, O(T·N) memory) instead of
        full ones.
    - `shrink`, `grow`: factors applied to λ after an accepted / rejected step.

    **Example:**

    ```python
    sol = paratime.unroll(chaotic_cell, h0, xs, solver=paratime.ELK(max_iters=500))
    ```
    """

    rtol: float | None = None
    atol: float | None = None
    max_iters: int = 200
    damping: float = 1.0
    diagonal: bool = False
    shrink: float = 0.3
    grow: float = 3.0

    @property
    def adjoint(self) -> Adjoint:  # type: ignore[override]
        return "diagonal" if self.diagonal else "dense"

    def solve(self, cell, h0, xs, guess):
        tol = default_tolerance(h0.dtype)
        rtol = tol if self.rtol is None else self.rtol
        atol = tol if self.atol is None else self.atol
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        s = jnp.zeros((T,) + h0.shape, h0.dtype) if guess is None else guess.astype(h0.dtype)
        linearise = cell.value_and_jacobian_diagonal if self.diagonal else cell.value_and_jacobian

        def evaluate(s):
            prev = shift_in(h0, s)
            f, jac = jax.vmap(linearise)(prev, xs)
            err = jnp.abs(s - f)
            merit = jnp.sum(err**2)
            converged = jnp.all(err <= atol + rtol * jnp.abs(f))
            return prev, f, jac, merit, converged

        def cond(carry):
            k, _, _, _, _, merit, converged, _ = carry
            return (k < self.max_iters) & ~converged

        def body(carry):
            k, s, prev, f, jac, merit, converged, lam = carry
            if self.diagonal:
                b = f - jac * prev
            else:
                b = f - jnp.einsum("tij,tj->ti", jac, prev)
            candidate = damped_step(jac, b, h0, s, lam)
            new = (candidate,) + evaluate(candidate)
            accept = jnp.isfinite(new[4]) & (new[4] < merit)
            old = (s, prev, f, jac, merit, converged)
            s, prev, f, jac, merit, converged = jax.tree_util.tree_map(
                lambda a, b: jnp.where(accept, a, b), new, old
            )
            lam = jnp.where(accept, lam * self.shrink, lam * self.grow)
            return k + 1, s, prev, f, jac, merit, converged, lam

        lam0 = jnp.asarray(self.damping, jnp.abs(h0).dtype)
        init = (jnp.array(0), s) + evaluate(s) + (lam0,)
        k, s, prev, f, _, merit, converged, lam = lax.while_loop(cond, body, init)
        residual = jnp.max(jnp.abs(s - f))
        result = RESULTS.where(converged, RESULTS.successful, RESULTS.max_iters_reached)
        return s, result, {"num_steps": k, "residual": residual, "damping": lam}


