"""Exact gradients of a converged trajectory by the implicit-function (adjoint) method.

At the solution, s_t = f(s_{t−1}, x_t; θ). For a loss with cotangents g_t = ∂L/∂s_t, the adjoint
λ solves the reverse linear recurrence

    λ_T = g_T,    λ_t = g_t + J_{t+1}ᵀ λ_{t+1},    J_{t+1} = ∂f(s_t, x_{t+1})/∂s_t,

and the gradients are one vector–Jacobian product of the vmapped cell with λ:
∂L/∂θ = Σ_t (∂f_t/∂θ)ᵀ λ_t, ∂L/∂x_t = (∂f_t/∂x_t)ᵀ λ_t, ∂L/∂h0 = J_1ᵀ λ_1.
Nothing is differentiated through the Newton iterations.
"""

from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jaxtyping import Array

from ._batching import lockstep_cond
from ._checks import tolerances
from ._flat import FlatCell
from ._loop import iterate
from ._recurrences import AbstractRecurrence, Scan, resolve
from ._scan import linear_recurrence
from ._solution import RESULTS
from ._structures import AbstractStructure, Diagonal


def shift_in(h0: Array, s: Array) -> Array:
    """The previous states [h0, s_1, ..., s_{T-1}] of a trajectory s_1..s_T."""
    return jnp.concatenate([h0[None], s[:-1]])


def _shift_out(x: Array) -> Array:
    """[x_2, ..., x_T, 0]: the value at t+1 placed at t."""
    return jnp.concatenate([x[1:], jnp.zeros_like(x[:1])])


def _is_none(x) -> bool:
    return x is None


def _reverse_scan(
    structure: AbstractStructure, jac: Array, g: Array, recurrence: AbstractRecurrence | None
) -> Array:
    """λ_T = g_T, λ_t = g_t + J_{t+1}ᵀ λ_{t+1} by the strategy `recurrence` (None: the
    backend's), from the Jacobians J (T, *structure layout) at the trajectory."""
    a = _shift_out(structure.transpose(jac))
    zero = jnp.zeros_like(g[0])
    return linear_recurrence(a, g, zero, reverse=True, structure=structure, recurrence=recurrence)


def _dense_adjoint(
    cell: FlatCell, prev: Array, xs: Any, g: Array, recurrence: AbstractRecurrence | None
) -> Array:
    _, jac = jax.vmap(cell.value_and_jacobian)(prev, xs)
    return _reverse_scan(cell.structure, jac, g, recurrence)


def _reverse_in_place(structure: AbstractStructure, jac: Array, g: Array) -> Array:
    """λ_T = g_T, λ_t = g_t + J_{t+1}ᵀ λ_{t+1}, by a reverse loop that reads J where it is.

    No shifted, transposed copy of J is made, and under `jax.vmap` the batch-major J is read
    step by step rather than transposed to time-major for a scan.
    """
    T = g.shape[0]

    def step(i, carry):
        lam, out = carry
        t = T - 2 - i
        j_next = lax.dynamic_index_in_dim(jac, t + 1, keepdims=False)
        g_t = lax.dynamic_index_in_dim(g, t, keepdims=False)
        lam = g_t + structure.transpose_apply(j_next, lam)
        return lam, lax.dynamic_update_index_in_dim(out, lam, t, 0)

    return lax.fori_loop(0, T - 1, step, (g[-1], g))[1]


def dense_adjoint(
    cell: FlatCell,
    prev: Array,
    xs: Any,
    g: Array,
    *,
    recurrence: AbstractRecurrence | None = None,
    jacobians: Array | None = None,
) -> Array:
    """λ from one reverse scan with the transposed exact Jacobians (in the cell's structure).

    `recurrence` is the strategy of the solve's `Linearisation` (None: the
    backend's default): `Associative()`, `Sharded(mesh, axis)` etc. solve the adjoint
    recurrence that way too. With the `Scan()` strategy (a CPU's default) and the
    Newton solve's Jacobians at hand, a reverse loop reads them in place instead.

    `jacobians`, if given, are those at the trajectory (J_t = ∂f(prev_t, x_t)/∂prev_t, as the
    Newton solve leaves them); otherwise they are evaluated here. Under `jax.vmap` the batch
    is laid out time-major, (T, batch, N, N), by a custom batching rule: the reverse scan then
    reads each step's Jacobians contiguously. Batched the default way, XLA computes them
    batch-major and transposes T·batch·N² numbers for the scan, which made a batch-16 GRU
    gradient 2–4× slower than backpropagation through time on a CPU.
    """
    structure = cell.structure
    if jacobians is not None:
        if isinstance(resolve(recurrence), Scan):
            return _reverse_in_place(structure, jacobians, g)
        return _reverse_scan(structure, jacobians, g, recurrence)
    dynamic, static = eqx.partition(cell, eqx.is_array)

    @custom_vmap
    def adjoint(dynamic, prev, xs, g):
        return _dense_adjoint(eqx.combine(dynamic, static), prev, xs, g, recurrence)

    @adjoint.def_vmap
    def time_major(axis_size, in_batched, dynamic, prev, xs, g):
        axes = jax.tree_util.tree_map(lambda b: 0 if b else None, in_batched)
        d_ax, p_ax, x_ax, g_ax = axes

        def step_jacobian(dynamic, p, x):  # one step of one sequence
            return eqx.combine(dynamic, static).value_and_jacobian(p, x)[1]

        def time_axis(ax):  # where T sits in a batched (batch, T, ...) or unbatched (T, ...) leaf
            return jax.tree_util.tree_map(lambda a: 0 if a is None else 1, ax, is_leaf=_is_none)

        over_batch = jax.vmap(step_jacobian, in_axes=(d_ax, p_ax, x_ax))
        jac = jax.vmap(over_batch, in_axes=(None, time_axis(p_ax), time_axis(x_ax)))(
            dynamic, prev, xs
        )  # (T, batch) + one step's Jacobian layout
        T = jac.shape[0]
        b = (
            jnp.moveaxis(g, 0, 1)
            if g_ax == 0
            else jnp.broadcast_to(g[:, None], (T, axis_size) + g.shape[1:])
        )
        lam = jax.vmap(
            lambda jac, b: _reverse_scan(structure, jac, b, recurrence), in_axes=1, out_axes=1
        )(jac, b)
        return jnp.moveaxis(lam, 1, 0), True

    return adjoint(dynamic, prev, xs, g)


def sequential_adjoint(cell: FlatCell, prev: Array, xs: Any, g: Array) -> Array:
    """λ by a sequential reverse scan of per-step VJPs (exact; O(T) depth)."""
    xs_next = jax.tree_util.tree_map(lambda x: x[1:], xs)

    def step(lam_next, inp):
        s_t, x_next, g_t = inp
        _, vjp = jax.vjp(lambda h: cell(h, x_next), s_t)
        lam = g_t + vjp(lam_next)[0]
        return lam, lam

    _, lams = lax.scan(step, g[-1], (prev[1:], xs_next, g[:-1]), reverse=True)
    return jnp.concatenate([lams, g[-1:]])


def diagonal_adjoint(
    cell: FlatCell,
    prev: Array,
    xs: Any,
    g: Array,
    *,
    rtol: float | None,
    atol: float | None,
    max_iters: int,
    recurrence=linear_recurrence,
    diagonal: Array | None = None,
    structure: AbstractStructure = Diagonal(),
) -> Array:
    """λ by quasi-Newton iterations: preconditioned with the Jacobians projected onto
    `structure` (the diagonal by default), with exact matrix-free VJPs.

    Each iteration solves λ_t − D_{t+1}ᵀ λ_{t+1} = g_t + (J_{t+1}ᵀ − D_{t+1}ᵀ) λ^old_{t+1} with a
    structured reverse scan. The system is triangular, so after k iterations the last k steps
    are exact, and at convergence λ is exact. Memory O(T·N) (O(T·N·k) for k×k blocks). If the
    iterations do not reach the tolerance within `max_iters`, a sequential reverse scan
    computes λ exactly instead. `diagonal`, if given, holds the projected Jacobians D at the
    trajectory (as the Newton solve leaves them); otherwise they are evaluated here.
    """
    rtol, atol = tolerances(rtol, atol, g.dtype)
    if diagonal is None:
        _, diagonal = jax.vmap(lambda p, x: cell.linearise(p, x, structure))(prev, xs)
    _, vjp_prev = jax.vjp(lambda p: jax.vmap(cell)(p, xs), prev)  # a PyTree of its residuals

    def transpose_apply(vjp_prev, lam):  # w_t = J_{t+1}ᵀ λ_{t+1}
        return _shift_out(vjp_prev(lam)[0])

    def progress(g, lam, w):
        # The residual of λ = g + Jᵀλ (shifted), and its test relative to the size of λ.
        err = jnp.max(jnp.abs(lam - g - w))
        return err, err <= atol + rtol * jnp.max(jnp.abs(lam))

    def step(ops, carry, active):
        # Under vmap the batch iterates in lockstep; a finished sequence keeps its λ.
        d, vjp_prev, g = ops
        lam, w = carry
        zero = jnp.zeros_like(g[0])
        rhs = g + w - structure.apply(d, _shift_out(lam))
        lam = jnp.where(active, recurrence(d, rhs, zero, reverse=True), lam)
        w = transpose_apply(vjp_prev, lam)
        return (lam, w), *progress(g, lam, w)

    d = _shift_out(structure.transpose(diagonal))
    lam = recurrence(d, g, jnp.zeros_like(g[0]), reverse=True)
    w = transpose_apply(vjp_prev, lam)
    (lam, _), result, _ = iterate(
        step, ((lam, w), *progress(g, lam, w)), (d, vjp_prev, g), max_iters=max_iters
    )
    # Batched, the costly exact fallback runs only if some sequence needs it.
    dynamic, static = eqx.partition(cell, eqx.is_array)
    return lockstep_cond(
        result == RESULTS.successful,
        lambda ops: ops[1],
        lambda ops: sequential_adjoint(eqx.combine(ops[0][0], static), *ops[0][1:]),
        ((dynamic, prev, xs, g), lam),
    )


def pullback(cell: FlatCell, prev: Array, xs: Any, lam: Array) -> tuple[Any, Array, Any]:
    """Gradients w.r.t. (cell, h0, xs) from the adjoint λ, by one vmapped VJP."""

    def step_all(cell, prev, xs):
        return jax.vmap(cell)(prev, xs)

    _, vjp = eqx.filter_vjp(step_all, cell, prev, xs)
    d_cell, d_prev, d_xs = vjp(lam)
    return d_cell, d_prev[0], d_xs
