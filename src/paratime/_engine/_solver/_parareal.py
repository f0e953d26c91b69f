"""Parareal: exact fine solves on time slices in parallel, corrected by a cheap coarse sweep."""

import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import Array

from .._adjoints import AbstractAdjoint, IterativeAdjoint, check_adjoint
from .._checks import check_int, check_tolerances, tolerances
from .._flat import FlatCell
from .._loop import iterate
from .._recurrences import AbstractRecurrence, Sharded, check_recurrence
from .._scan import linear_recurrence
from .._sharding import auto_mesh
from .._solution import Linearisation, SolveResult
from .._structures import Diagonal
from ._abstract import AbstractSolver
from ._hints import ELK, QUASI_DEER, try_instead
from ._newton import pad_time


def _slices(x: Array, num: int) -> Array:
    """(num·L, ...) -> (num, L, ...)."""
    return x.reshape((num, x.shape[0] // num) + x.shape[1:])


class Parareal(AbstractSolver):
    r"""Parareal (Lions, Maday and Turinici, 2001) over `num_slices` slices of the time axis.

    The sequence is cut into S = `num_slices` slices of L = ⌈T/S⌉ steps. Iteration k keeps one
    start state U_n per slice and

    1. runs the *fine* propagator F, the exact cell step by step, on every slice at once
       (`vmap` over slices; L sequential steps in all);
    2. stops when the trajectory so obtained satisfies
       |h_t − f(h_{t−1}, x_t)| ≤ atol + rtol·|f(h_{t−1}, x_t)| at every slice boundary
       (inside a slice it holds exactly);
    3. otherwise corrects the start states with the *coarse* propagator G:
       U_{n+1}^{k+1} = G(U_n^{k+1}) + F(U_n^k) − G(U_n^k).

    U_0 = h0 is exact, so after k corrections the first k + 1 slices are exact, and after at
    most S − 1 corrections the whole trajectory is (bit for bit, up to how `vmap` rounds).
    Each correction is a sequential sweep over the S slices with G, so the fewer the slices
    the coarse sweep misses, the fewer iterations are needed.

    Coarse propagators:

    - `coarse="quasideer"` (default): G is F linearised around the previous iterate with
      the Jacobian diagonals multiplied along each slice, G(V) = F(U_n) + D_n ⊙ (V − U_n).
      The correction is then one QuasiDEER sweep on the slice boundaries, solved by a
      `linear_recurrence` of length S (O(log S) depth); it costs one Jacobian diagonal per
      fine step. No coarse cell needed.
    - `coarse=<cell>`: a user-given cheaper cell with the same state structure, e.g. a
      linearised cell, or one that takes a `coarse_stride`-times larger step: G on slice n
      applies it to the inputs x_{nL+s}, x_{nL+2s}, ... (s = `coarse_stride`), L // s steps.
      The start states of iteration 0 come from one coarse sweep from h0.

    Gradients use the exact adjoint of the other solvers (the "diagonal" one: quasi-Newton
    iterations with exact vector–Jacobian products, O(T·N) memory); nothing is differentiated
    through the parareal iterations.

    **Arguments:**

    - `num_slices`: the number of time slices S (≥ 1); the parallelism of the fine sweep.
        None (default): ⌈√T⌉, which balances the fine sweep (T/S steps) against the coarse
        one (S steps).
    - `coarse`: `"quasideer"` (stored as `None`) or a cell `(h, x) -> h_next` on the same
        state PyTree as `h0`. Its gradient is cut (`lax.stop_gradient`): it only steers the
        iteration, so it may share parameters with the differentiated cell.
    - `coarse_stride`: inputs per coarse step for a coarse cell (≥ 1).
    - `rtol`, `atol`: tolerances on the slice-boundary residual; default eps^(3/4) of the dtype.
    - `max_iters`: the most corrections; default `num_slices` (enough for an exact answer).
    - `adjoint` (keyword-only): how gradients are computed; default `IterativeAdjoint()`.
    - `recurrence` (keyword-only): a `paratime.recurrences` strategy. `Associative()` or
        `Scan()`: how the QuasiDEER coarse sweep (a diagonal linear recurrence over the S
        slice boundaries) is solved. `Sharded(mesh, axis_name)`: the slices spread over the
        devices of that mesh axis (each device runs the fine propagator on its own slices;
        the compiler inserts the boundary-state exchanges; best with `num_slices` a multiple
        of the axis size), the sweep by its `inner` strategy. None (default): the backend's
        choice. It is also the strategy of the adjoint's reverse recurrences. `Chunked` does
        not apply: the sweep is only S steps long, and the fine sweeps already hold one slice
        per step of the loop.

    **Example:**

    ```python
    solver = paratime.Parareal(num_slices=16)
    sol = paratime.unroll(cell, h0, xs, solver=solver)
    sol.stats["num_steps"]  # corrections made
    coarse = paratime.Parareal(16, coarse=linearised_cell, coarse_stride=4)
    ```
    """

    num_slices: int | None = eqx.field(static=True)
    coarse: Callable | None  # None: the QuasiDEER sweep
    coarse_stride: int = eqx.field(static=True)
    rtol: float | None = None
    atol: float | None = None
    max_iters: int | None = None

    # (The class has its own __init__: the dataclass rule on field order does not apply.)
    adjoint: AbstractAdjoint  # pyright: ignore[reportGeneralTypeIssues]
    recurrence: AbstractRecurrence | None  # pyright: ignore[reportGeneralTypeIssues]

    def __init__(
        self,
        num_slices: int | None = None,
        coarse: Literal["quasideer"] | Callable | None = "quasideer",
        coarse_stride: int = 1,
        rtol: float | None = None,
        atol: float | None = None,
        max_iters: int | None = None,
        *,
        adjoint: AbstractAdjoint | None = None,
        recurrence: AbstractRecurrence | None = None,
    ):
        if isinstance(coarse, str) and coarse == "quasideer":
            coarse = None
        elif isinstance(coarse, str) or not (coarse is None or callable(coarse)):
            raise ValueError(f"`coarse` must be 'quasideer' or a cell; got {coarse!r}.")
        self.num_slices = num_slices
        # The coarse cell only steers the iteration; the converged answer does not depend on
        # it. Cutting its gradient lets it share parameters with the differentiated cell.
        self.coarse = jax.tree_util.tree_map(
            lambda x: lax.stop_gradient(x) if eqx.is_array(x) else x, coarse
        )
        self.coarse_stride = coarse_stride
        self.rtol = rtol
        self.atol = atol
        self.max_iters = max_iters
        check_recurrence(
            recurrence,
            allowed=("Associative", "Scan", "Sharded"),
            why="Parareal's coarse sweep is a recurrence over the slice boundaries only "
            "(num_slices steps), too short to chunk.",
        )
        self.adjoint = IterativeAdjoint() if adjoint is None else adjoint
        self.recurrence = recurrence

    def __check_init__(self):
        check_int("num_slices", self.num_slices, minimum=1, allow_none=True)
        check_int("coarse_stride", self.coarse_stride, minimum=1)
        # (0 corrections is meaningful here: the coarse sweep alone)
        check_int("max_iters", self.max_iters, minimum=0, allow_none=True)
        check_tolerances(self.rtol, self.atol)
        check_adjoint(self.adjoint, "Parareal")

    def hint(self, result):
        return try_instead(result, ELK, QUASI_DEER)

    def _shard_slices(self, tree):
        """Place the slice axis (axis 0) over the mesh: each device runs its own slices."""
        assert isinstance(self.recurrence, Sharded)
        mesh, axis_name = self.recurrence.mesh, self.recurrence.axis_name
        sharding = NamedSharding(auto_mesh(mesh), PartitionSpec(axis_name))
        return jax.tree_util.tree_map(lambda x: lax.with_sharding_constraint(x, sharding), tree)

    def solve(self, cell: FlatCell, h0: Array, xs: Any, guess: Array | None):
        rtol, atol = tolerances(self.rtol, self.atol, h0.dtype)
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        num_slices = math.isqrt(T - 1) + 1 if self.num_slices is None else self.num_slices
        max_iters = num_slices if self.max_iters is None else self.max_iters
        S = min(num_slices, T)
        L = -(-T // S)
        # Padding at the end changes no earlier state; the extra states are dropped.
        xs_s = jax.tree_util.tree_map(lambda x: _slices(x, S), pad_time(xs, S * L))
        sharded = isinstance(self.recurrence, Sharded)
        if sharded:
            xs_s = self._shard_slices(xs_s)
        first_x = jax.tree_util.tree_map(lambda x: x[1:, 0], xs_s)
        use_diag = self.coarse is None
        # The coarse sweep runs on every device whole (its S steps are replicated).
        coarse_recurrence = self.recurrence
        if isinstance(coarse_recurrence, Sharded):
            coarse_recurrence = coarse_recurrence.inner

        def fine_slice(u, xs_n):
            """The exact cell over one slice from u; with the product of Jacobian diagonals."""

            def step(carry, x):
                h, d = carry
                if use_diag:
                    h, diag = cell.value_and_jacobian_diagonal(h, x)
                    d = diag * d
                else:
                    h = cell(h, x)
                return (h, d), h

            (_, d), ys = lax.scan(step, (u, jnp.ones_like(u)), xs_n)
            return ys, d

        def evaluate(u):
            ys, d = jax.vmap(fine_slice)(u, xs_s)
            ends = ys[:, -1]
            # Residual at slice starts 1..S-1 (inside slices it is zero by construction).
            f = jax.vmap(cell)(ends[:-1], first_x)
            err = jnp.abs(ys[1:, 0] - f)
            residual = jnp.max(err, initial=0.0)
            converged = jnp.all(err <= atol + rtol * jnp.abs(f))
            return ys, ends, d, residual, converged

        if not use_diag:
            # (not use_diag: the coarse cell is given)
            coarse_cell = FlatCell(self.coarse, cell.state)  # pyright: ignore[reportArgumentType]
            stride = self.coarse_stride
            coarse_xs = jax.tree_util.tree_map(lambda x: x[:, stride - 1 :: stride], xs_s)

            def coarse_slice(u, xs_n):
                return lax.scan(lambda h, x: (coarse_cell(h, x), None), u, xs_n)[0]

            def coarse_sweep(g_old, ends, u):
                """U_{n+1} = F(U_n) + G(U_n^new) − G(U_n), sequentially over the slices."""

                def step(u_new, inp):
                    g_o, end, u_o, xs_n = inp
                    same = jnp.all(u_new == u_o)  # keeps exact slices exact, bit for bit
                    corr = jnp.where(same, 0, coarse_slice(u_new, xs_n) - g_o)
                    nxt = end + corr
                    return nxt, nxt

                inputs = (g_old[:-1], ends[:-1], u[:-1], slice_tree(coarse_xs, 0, S - 1))
                return jnp.concatenate([h0[None], lax.scan(step, h0, inputs)[1]])

        def slice_tree(tree, start, stop):
            return jax.tree_util.tree_map(lambda x: x[start:stop], tree)

        def correct(u, ends, d):
            if use_diag:
                # δ_{n+1} = D_n δ_n + F(U_n) − U_{n+1}, δ_0 = 0: one diagonal linear recurrence.
                delta = linear_recurrence(
                    d[:-1], ends[:-1] - u[1:], jnp.zeros_like(h0), recurrence=coarse_recurrence
                )
                return u.at[1:].add(delta)
            g_old = jax.vmap(coarse_slice)(u, coarse_xs)
            return coarse_sweep(g_old, ends, u)

        if guess is not None:
            g = pad_time(guess.astype(h0.dtype), S * L)
            u = jnp.concatenate([h0[None], g[L - 1 : (S - 1) * L : L]])
        elif use_diag:
            u = jnp.broadcast_to(h0, (S,) + h0.shape)
        else:
            # Iteration 0: one coarse sweep from h0 (U_{n+1} = G(U_n)).
            def coarse_step(h, xs_n):
                h = coarse_slice(h, xs_n)
                return h, h

            u = lax.scan(coarse_step, h0, slice_tree(coarse_xs, 0, S - 1))[1]
            u = jnp.concatenate([h0[None], u])

        if sharded:
            u = self._shard_slices(u)
        ys, ends, d, residual, converged = evaluate(u)

        def step(_, carry, active):
            u, _, ends, d = carry
            u = correct(u, ends, d)
            ys, ends, d, residual, converged = evaluate(u)
            return (u, ys, ends, d), residual, converged

        (_, ys, _, _), result, stats = iterate(
            step, ((u, ys, ends, d), residual, converged), None, max_iters=max_iters, lockstep=False
        )
        states = ys.reshape((S * L,) + h0.shape)[:T]
        lin = Linearisation(Diagonal(), None, self.recurrence, self.rtol, self.atol, 100)
        return SolveResult(states, result, stats, lin)
