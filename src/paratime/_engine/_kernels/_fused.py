"""The fused Newton iteration: one kernel per iteration reads the current trajectory and the
cell's precomputed input projections, evaluates the cell and its structured Jacobian, solves
the linearised recurrence and writes only the next trajectory and the residual. No T×N
Jacobian goes to memory.

A cell opts in with `fused_newton_parts(xs) -> FusedParts`: its per-unit constants, its input
projections for all steps, and its step as elementwise arithmetic on per-unit vectors (the
value and the k×k Jacobian block of each unit: k = 1 for `DiagonalGRU`, 2 for
`DiagonalLSTM`, whose ravelled state interleaves each unit's (c, h)).
"""

from typing import Any

import jax
import jax.numpy as jnp

from .._loop import iterate
from .._solution import SolveResult
from . import _ops
from ._driver import SeqInput, Source, accumulation_dtype, plan, run
from ._parts import FusedParts


def fused_parts(cell: Any, xs: Any) -> FusedParts | None:
    """The fused parts of the cell inside a `FlatCell`, or None if it offers none."""
    inner = getattr(cell, "cell", cell)
    method = getattr(inner, "fused_newton_parts", None)
    return None if method is None else method(xs)


class _NewtonStep(Source):
    """Step t of the linearised recurrence at the trajectory s: J_t = ∂f(s_{t−1}, x_t), b_t =
    f_t − J_t s_{t−1}; and the residual |s_t − f_t| with its test against the tolerances."""

    num_stats = 2

    def __init__(self, parts: FusedParts, op, acc, rtol: float, atol: float):
        self.step, self.op, self.acc = parts.step, op, acc
        self.Q = parts.inputs.shape[1]
        self.rtol, self.atol = rtol, atol

    def init(self, chunk_refs, acc):
        (prev_ref,) = chunk_refs
        return tuple(prev_ref[c, :].astype(acc) for c in range(self.op.k))

    def load(self, t, seq_refs, consts, prev):
        s_ref, pre_ref = seq_refs
        k, acc = self.op.k, self.acc
        if k == 1:
            s_t = (s_ref[t, 0, :].astype(acc),)
        else:
            s_t = tuple(s_ref[t, :, c].astype(acc) for c in range(k))
        pre = tuple(pre_ref[t, q, :].astype(acc) for q in range(self.Q))
        f, jac = self.step(consts[0], pre, prev)
        b = tuple(fc - jp for fc, jp in zip(f, self.op.apply(jac, prev)))
        err = [jnp.abs(s - fc) for s, fc in zip(s_t, f)]
        excess = [e - (self.atol + self.rtol * jnp.abs(fc)) for e, fc in zip(err, f)]
        return jac, b, s_t, (_max(err), _max(excess))


def _max(xs):
    out = xs[0]
    for x in xs[1:]:
        out = jnp.maximum(out, x)
    return out


def newton_iteration(parts: FusedParts, h0, s, *, rtol, atol, batch, chunk, block, settings):
    """One fused Newton iteration from the trajectory `s` (T, N): the next trajectory, the
    residual max|s_t − f(s_{t−1}, x_t)| of `s` and whether `s` passes the test."""
    T, N = s.shape
    k = parts.k
    n = N // k
    op = _ops.diagonal() if k == 1 else _ops.block(k)
    acc = accumulation_dtype(s.dtype, parts.inputs.dtype)
    bl, L = plan(T, n, batch, chunk=chunk, block=block)
    s3 = s.reshape(T, 1, n) if k == 1 else s.reshape(T, n, k)

    def chunk_starts(L):  # the state before each chunk: h0, then s at the chunk boundaries
        before = s[L - 1 : T - 1 : L] if T > L else s[:0]
        starts = jnp.concatenate([h0[None], before]).astype(acc)  # (C, N)
        return (jnp.swapaxes(starts.reshape(-1, n, k), 1, 2),)  # (C, k, n)

    h, (err, excess) = run(
        _NewtonStep(parts, op, acc, rtol, atol),
        op,
        (SeqInput(s3, 2 if k == 1 else 1), SeqInput(parts.inputs, 2)),
        (parts.params,),
        h0.reshape(n, k).T,
        chunk_inputs=chunk_starts,
        T=T,
        C=n,
        block=bl,
        chunk=L,
        reverse=False,
        acc=acc,
        out_dtype=s.dtype,
        **settings(bl),
    )
    return h.reshape(T, N), jnp.max(err).astype(jnp.abs(s).dtype), jnp.max(excess) <= 0


def fused_newton(solver, strategy, cell, h0, xs, guess) -> SolveResult | None:
    """The Newton solve of `solver` (DEER or QuasiDEER, whose linearisation is the cell's
    exact structure) with one fused kernel per iteration; None if the cell offers no fused
    step or the solver linearises with another structure.

    The kernel evaluates the residual of the trajectory it starts from, so the loop reports
    the residual of iterate i while carrying iterate i + 1: the returned trajectory is one
    exact Newton step beyond the one that passed the test.
    """
    from .._solver._newton import initial_trajectory

    if solver.linearisation(cell) != cell.structure:
        return None
    parts = fused_parts(cell, xs)
    if parts is None:
        return None
    rtol, atol = solver._tolerances(h0.dtype)
    T = jax.tree_util.tree_leaves(xs)[0].shape[0]
    s = initial_trajectory(h0, T, guess)
    options = dict(
        rtol=rtol,
        atol=atol,
        batch=1,
        chunk=strategy.chunk,
        block=strategy.block,
        settings=strategy.kernel_settings,
    )
    from .._batching import vmap_batch_size

    options["batch"] = vmap_batch_size((h0, parts.inputs, s))

    def kernel(ops, s):
        params, inputs, h0 = ops
        return newton_iteration(parts._replace(params=params, inputs=inputs), h0, s, **options)

    ops = (parts.params, parts.inputs, h0)

    def step(ops, s, active):
        s_next, residual, converged = kernel(ops, s)
        return jnp.where(active, s_next, s), residual, converged

    s, result, stats = iterate(
        step,
        kernel(ops, s),
        ops,
        max_iters=solver.max_iters,
        divergence=solver.divergence,
        lockstep=True,
    )
    return SolveResult(s, result, stats, None)
