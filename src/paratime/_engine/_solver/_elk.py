"""ELK: Newton over the trajectory with damped (Levenberg–Marquardt) steps, by Kalman smoothing."""

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp

from .._adjoints import AbstractAdjoint, ImplicitAdjoint, IterativeAdjoint, check_adjoint
from .._batching import one_at_a_time_on_cpu
from .._checks import (
    _concrete,
    check_int,
    check_number,
    check_tolerances,
    tolerances,
)
from .._loop import iterate
from .._recurrences import AbstractRecurrence, check_recurrence
from .._solution import Linearisation, SolveResult
from .._structures import Dense, Diagonal
from ._abstract import AbstractSolver
from ._hints import try_instead
from ._kalman import damped_step
from ._newton import initial_trajectory, shift_in


def _is_number(x) -> bool:
    return _concrete(x) is not None


class ELK(AbstractSolver):
    """Damped Newton over the trajectory, stable where DEER diverges (Gonzalez et al., 2024).

    Each step minimises Σ_t ‖s_t − A_t s_{t−1} − b_t‖² + λ‖s − s^(i)‖², the Levenberg–Marquardt
    step on the residual F(s)_t = s_t − f(s_{t−1}, x_t). It is computed as a Kalman smoother
    written as associative scans (O(log T) depth). λ adapts as a trust region: a finite
    step that does not raise ‖F‖² by more than `max_merit_growth` is accepted and λ shrinks;
    otherwise it is rejected and λ grows. Iterates stay
    finite, and the converged prefix of the trajectory is kept and extended by one exact step
    per iteration, so ELK converges in at most T iterations even on chaotic cells, where the
    undamped linearisation overflows. (On chaotic cells expect many iterations: conditioning
    degrades exponentially in T when the largest Lyapunov exponent is positive, Gonzalez et al.
    2025; a sequential scan is then usually faster.) Stops on the same tolerance test as DEER.

    **Arguments:**

    - `rtol`, `atol`, `max_iters`: as `DEER` (`max_iters` counts trial steps).
    - `damping`: the initial λ.
    - `diagonal`: use diagonal Jacobians (quasi-ELK: elementwise, O(T·N) memory) instead of
        full ones.
    - `adjoint` (keyword-only): how gradients are computed; default `ImplicitAdjoint()`, or
        `IterativeAdjoint()` with `diagonal=True`.
    - `shrink`, `grow`: factors applied to λ after an accepted / rejected step.
    - `recurrence` (keyword-only): how the damped step's scans run: `Associative()` (the
        Kalman filter as an associative scan over 5-tuples and the smoother as a parallel
        linear recurrence, O(log T) depth) or `Scan()` (the textbook filter recursion
        and a sequential smoother). None (default): the measured choice, the associative
        filter for `diagonal=True` everywhere and for dense Jacobians off a CPU. Also the
        strategy of the implicit adjoint's reverse recurrence.
    - `max_merit_growth`: a finite step is accepted when it raises ‖F‖² by at most this factor.
        Newton steps are not monotone in ‖F‖², and a strict decrease test (1.0) rejects many
        good ones; measured on Elman cells, 1e3 needs 2–3× fewer iterations than 1.0.

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
    max_merit_growth: float = 1e3
    grow: float = 3.0
    # None: `IterativeAdjoint()` with `diagonal=True`, else `ImplicitAdjoint()` (set in
    # `__post_init__`).
    adjoint: AbstractAdjoint = eqx.field(default=None, kw_only=True)  # type: ignore[assignment]
    recurrence: AbstractRecurrence | None = eqx.field(default=None, kw_only=True)

    def __post_init__(self):
        if self.adjoint is None:
            self.adjoint = IterativeAdjoint() if self.diagonal else ImplicitAdjoint()

    def __check_init__(self):
        check_tolerances(self.rtol, self.atol)
        check_adjoint(self.adjoint, "ELK")
        check_recurrence(
            self.recurrence,
            allowed=("Associative", "Scan"),
            why="ELK's step is a Kalman filter (a scan over 5-tuples) and smoother, which "
            "runs whole, not in chunks or shards.",
        )
        check_int("max_iters", self.max_iters, minimum=1)
        check_number("damping", self.damping, allow_none=False, what="the initial λ")
        check_number(
            "shrink",
            self.shrink,
            strict=True,
            allow_none=False,
            what="factor applied to λ after an accepted step, in (0, 1]",
        )
        if _is_number(self.shrink) and self.shrink > 1:
            raise ValueError(
                f"`shrink` must be in (0, 1] (it shrinks λ after an accepted step); got "
                f"{self.shrink!r}. Did you swap `shrink` and `grow`?"
            )
        check_number(
            "grow",
            self.grow,
            minimum=1.0,
            allow_none=False,
            what="factor applied to λ after a rejected step, >= 1",
        )
        check_number(
            "max_merit_growth",
            self.max_merit_growth,
            minimum=1.0,
            allow_none=False,
            allow_inf=True,
            what="the largest accepted growth of ‖F‖²",
        )

    def linearisation(self, cell):
        return Diagonal() if self.diagonal else Dense()

    def hint(self, result):
        return try_instead(result)

    def solve(self, cell, h0, xs, guess):
        # Batched on a CPU, one sequence after another (measured, docs/benchmarks.md); the
        # step does not mask finished sequences, so elsewhere a vmapped `lax.while_loop`.
        dynamic, static = eqx.partition(cell, eqx.is_array)
        s, result, stats = one_at_a_time_on_cpu(
            lambda d, h0, xs, guess: self._solve(eqx.combine(d, static), h0, xs, guess),
            dynamic,
            h0,
            xs,
            guess,
        )
        lin = Linearisation(
            self.linearisation(cell), None, self.recurrence, self.rtol, self.atol, self.max_iters
        )
        return SolveResult(s, result, stats, lin)

    def _solve(self, cell, h0, xs, guess):
        rtol, atol = tolerances(self.rtol, self.atol, h0.dtype)
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        s = initial_trajectory(h0, T, guess)
        structure = self.linearisation(cell)

        def linearise(p, x):
            return cell.linearise(p, x, structure)

        steps = jnp.arange(T)

        def evaluate(s):
            prev = shift_in(h0, s)
            f, jac = jax.vmap(linearise)(prev, xs)
            err = jnp.abs(s - f)
            merit = jnp.sum(err**2)
            # (written so that NaN counts as not converged)
            bad = jnp.any(~(err <= atol + rtol * jnp.abs(f)), axis=1)
            # The first step that is not converged; all steps before it are exact.
            first = jnp.where(jnp.any(bad), jnp.argmax(bad), T)
            return s, prev, f, jac, merit, first

        def progress(state):
            # The loop's residual and test. A non-finite residual at an accepted state cannot
            # recover (the exact step after the converged prefix is itself non-finite): the
            # loop stops there with `RESULTS.nonfinite`.
            s, _, f, _, _, first = state
            return jnp.max(jnp.abs(s - f), initial=0.0), first == T

        def step(_, carry, active):
            (s, prev, f, jac, merit, first), lam = carry
            b = f - structure.apply(jac, prev)
            candidate = damped_step(jac, b, h0, s, lam, self.recurrence)
            # Keep the converged prefix and take the exact step after it, as sequential
            # evaluation would: the converged prefix grows by at least one step per
            # iteration, so ELK converges in at most T iterations even on chaotic cells.
            protected = (steps < first)[:, None]
            exact = (steps == first)[:, None]
            fixed = jnp.where(exact, f, s)
            candidate = jnp.where(protected, s, jnp.where(exact, f, candidate))
            new = evaluate(candidate)
            accept = jnp.isfinite(new[4]) & (new[4] < self.max_merit_growth * merit)
            state = lax.cond(accept, lambda: new, lambda: evaluate(fixed))
            lam = jnp.where(accept, lam * self.shrink, lam * self.grow)
            return (state, lam), *progress(state)

        lam0 = jnp.asarray(self.damping, jnp.abs(h0).dtype)
        state = evaluate(s)
        ((s, *_), lam), result, stats = iterate(
            step, ((state, lam0), *progress(state)), None, max_iters=self.max_iters, lockstep=False
        )
        return s, result, {**stats, "damping": lam}
