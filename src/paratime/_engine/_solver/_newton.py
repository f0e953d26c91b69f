"""Newton's method over the whole trajectory: DEER (full Jacobians) and QuasiDEER (diagonal)."""

import abc
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array

from .._adjoint import shift_in
from .._adjoints import (
    AbstractAdjoint,
    ImplicitAdjoint,
    IterativeAdjoint,
    check_adjoint,
    or_default,
)
from .._batching import one_at_a_time_on_cpu
from .._checks import check_int, check_number, check_tolerances, tolerances
from .._kernels._strategy import Pallas
from .._loop import iterate
from .._platform import platform
from .._recurrences import (
    AbstractRecurrence,
    Chunked,
    Scan,
    Sharded,
    TimeShard,
    check_recurrence,
    resolve,
)
from .._solution import RESULTS, Linearisation, SolveResult
from .._structures import AbstractStructure, Dense, Diagonal
from ._abstract import AbstractSolver
from ._hints import ELK, QUASI_DEER, try_instead

# The evaluation pass on a CPU runs in blocks of EVAL_BLOCK steps, and of fewer (but at least
# EVAL_MIN_STEPS) where a block would hold more than EVAL_BLOCK_NUMBERS numbers (steps × N), so
# that the cell's temporaries stay in cache (measured, GRU: 1024 steps best at N = 16 and 64,
# 256 steps at N = 256; 4096 was 1.5× slower at N = 64, T = 1e4).
EVAL_BLOCK = 1024
EVAL_BLOCK_NUMBERS = 65536
EVAL_MIN_STEPS = 256


def solve_linearised(
    structure: AbstractStructure,
    jac: Array,
    b: Array,
    h0: Array,
    out: Array,
    active: Array,
    recurrence: AbstractRecurrence | None = None,
) -> Array:
    """s_t = J_t s_{t−1} + b_t from s_0 = h0, for a `jac` in the layout of `structure`;
    `out` itself where `active` is False.

    `linear_recurrence` without its input checks and implicit derivative (the Newton loop is
    never differentiated), by `recurrence` (None: the backend's default). Where the
    `Scan()` strategy is used (by default on a CPU), the states are written
    into `out` (the previous iterate, which is dead by then) step by step, and h0 is not
    folded into a copy of `b`; `jac` and `b` are dead afterwards too, so the next evaluation
    pass overwrites them in place: the working memory is the states, J and b, nothing more.
    The in-place loop also keeps batched (vmapped) solves free of transposes to time-major.
    `active` (one bool; per sequence under `vmap`) lets a batch that runs in lockstep keep
    finished sequences as they are (see `lockstep_while_loop`).
    """
    recurrence = resolve(recurrence)
    if not isinstance(recurrence, Scan):
        return jnp.where(active, recurrence.solve(structure, jac, b, h0, False), out)

    def step(t, carry):
        h, out = carry
        a_t = lax.dynamic_index_in_dim(jac, t, keepdims=False)
        b_t = lax.dynamic_index_in_dim(b, t, keepdims=False)
        old = lax.dynamic_index_in_dim(out, t, keepdims=False)
        h = jnp.where(active, structure.apply(a_t, h) + b_t, old)
        return h, lax.dynamic_update_index_in_dim(out, h.astype(out.dtype), t, 0)

    # (The `Scan()` strategy's loop, writing in place; see `recurrences.Scan`.)

    return lax.fori_loop(0, b.shape[0], step, (h0, out))[1]


def cpu_eval_block(T: int) -> int | None:
    """Steps per block of a Newton solver's evaluation pass: `EVAL_BLOCK` on a CPU (for
    T > EVAL_BLOCK), else None (all T steps at once).

    Measured on a CPU (GRU, N=16, T=1e5, float32): blocks read in place from the trajectory
    cut QuasiDEER's working memory from 56 (all steps at once) to 13.6 bytes·T·N (the states,
    J and b: 12) and are faster; DEER with a diagonal or 2×2 cell likewise. Elsewhere: all
    steps at once.
    """
    return EVAL_BLOCK if platform() == "cpu" and T > EVAL_BLOCK else None


def initial_trajectory(h0: Array, T: int, guess: Array | None) -> Array:
    """The first iterate of a solver over the trajectory: `guess`, or zeros, shape (T, N)."""
    if guess is None:
        return jnp.broadcast_to(jnp.zeros_like(h0), (T,) + h0.shape)
    return guess.astype(h0.dtype)


def pad_time(xs: Any, length: int) -> Any:
    """Pad every leaf of `xs` along time with copies of its last entry, up to `length`."""

    def pad(x):
        extra = length - x.shape[0]
        return jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)]) if extra else x

    return jax.tree_util.tree_map(pad, xs)


class AbstractNewton(AbstractSolver):
    """Newton iterations s ← solve_linear(J(s), f(s)) until max|s_t − f(s_{t−1}, x_t)| is small.

    Subclasses choose the linearisation of one step (`_linearise_step`) and the right-hand
    side of the linearised recurrence (`_rhs`); `solve_linearised` solves it. The iteration
    stops when every component satisfies
    |s_t − f(s_{t−1}, x_t)| ≤ atol + rtol·|f(s_{t−1}, x_t)|, when `max_iters` is reached, when
    the iterate becomes non-finite, or when the residual grows past `divergence` times its
    starting value.
    """

    rtol: float | None = None
    atol: float | None = None
    max_iters: int = 100
    divergence: float = 1e8
    recurrence: AbstractRecurrence | None = eqx.field(default=None, kw_only=True)

    def __check_init__(self):
        check_tolerances(self.rtol, self.atol)
        check_adjoint(self.adjoint, type(self).__name__)
        check_int("max_iters", self.max_iters, minimum=1)
        check_recurrence(self.recurrence)
        check_number(
            "divergence",
            self.divergence,
            minimum=1.0,
            allow_none=False,
            allow_inf=True,
            what="the residual growth factor that counts as divergence",
        )

    @abc.abstractmethod
    def linearisation(self, cell) -> AbstractStructure:
        """The structure of the Jacobians this solver linearises `cell` with."""

    def _linearise_step(self, cell, prev: Array, x: Any) -> tuple[Array, Array]:
        """f(prev, x) and its Jacobian in the layout of `self.linearisation(cell)`."""
        return cell.linearise(prev, x, self.linearisation(cell))

    def _rhs(self, structure: AbstractStructure, jac: Array, f: Array, prev: Array) -> Array:
        """b_t = f_t − J_t prev_t, the input of the linearised step s_t = J_t s_{t−1} + b_t."""
        return f - structure.apply(jac, prev)

    @abc.abstractmethod
    def _eval_block(self, structure: AbstractStructure, T: int) -> int | None:
        """Steps per block of the evaluation pass (at most; see `EVAL_BLOCK_NUMBERS`); None
        evaluates all T steps at once (see `cpu_eval_block`)."""

    def _linearisation(self, cell, jacobians: Array | None) -> Linearisation:
        """What the adjoint needs from this solve: the Jacobians (if kept) in
        `self.linearisation(cell)`, the strategy of its reverse recurrences (the whole
        sequence at once for `Chunked`, by its inner strategy) and the tolerances."""
        recurrence = self.recurrence
        if isinstance(recurrence, Chunked):
            recurrence = recurrence.inner
        return Linearisation(
            self.linearisation(cell),
            jacobians,
            recurrence,
            self.rtol,
            self.atol,
            self.max_iters,
            one_at_a_time_on_cpu=True,
        )

    def _tolerances(self, dtype) -> tuple[float, float]:
        return tolerances(self.rtol, self.atol, dtype)

    @staticmethod
    def _evaluate_blocks(one, h0, xs, s, jac, b, block):
        """The evaluation pass in blocks of `block` steps, read from `s` and `xs` in place.

        Neither the shifted trajectory (s_{t−1} for every t) nor reshaped copies of `s` and
        `xs` are made: each block takes its slices with `dynamic_slice` and writes its
        (J_t, b_t) into `jac` and `b` with `dynamic_update_slice`, so the cell's temporaries
        are O(block·N). The last block ends at step T (it overlaps the one before when
        `block` does not divide T; those steps are computed twice with the same result).
        """
        T = s.shape[0]
        starts = -(-T // block)

        def slab(x, start):
            return lax.dynamic_slice_in_dim(x, start, block)

        def body(i, carry):
            jac, b, err, ok = carry
            start = jnp.minimum(i * block, T - block)
            st = slab(s, start)
            before = lax.dynamic_index_in_dim(s, jnp.maximum(start - 1, 0), keepdims=False)
            first = jnp.where(start == 0, h0, before)
            prev = jnp.concatenate([first[None], st[:-1]])
            x = jax.tree_util.tree_map(lambda leaf: slab(leaf, start), xs)
            jac_i, b_i, err_i, ok_i = jax.vmap(one)(prev, x, st)
            jac = lax.dynamic_update_slice_in_dim(jac, jac_i.astype(jac.dtype), start, 0)
            b = lax.dynamic_update_slice_in_dim(b, b_i.astype(b.dtype), start, 0)
            return jac, b, jnp.maximum(err, jnp.max(err_i)), ok & jnp.all(ok_i)

        shapes = jax.eval_shape(
            lambda: jax.vmap(one)(s[:1], jax.tree_util.tree_map(lambda x: x[:1], xs), s[:1])
        )
        if jac is None:
            jac = jnp.zeros((T,) + shapes[0].shape[1:], shapes[0].dtype)
        if b is None:
            b = jnp.zeros((T,) + shapes[1].shape[1:], shapes[1].dtype)
        init = (jac, b, jnp.zeros((), jnp.abs(s).dtype), jnp.array(True))
        return lax.fori_loop(0, starts, body, init)

    def _newton(self, cell, h0, xs, guess, recurrence):
        """The Newton loop on the whole trajectory, or, with a `TimeShard` recurrence (inside
        `Sharded.map`), on this device's chunk of it: the state before the chunk then comes
        from the left neighbour, and the residual and the test are reduced over the devices,
        so every device stops at the same iteration."""
        shard = recurrence if isinstance(recurrence, TimeShard) else None
        rtol, atol = self._tolerances(h0.dtype)
        structure = self.linearisation(cell)
        structure.check(h0.shape[-1])
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        s = initial_trajectory(h0, T, guess)
        dynamic, static = eqx.partition(cell, eqx.is_array)

        def evaluate(ops, s, jac=None, b=None):
            # One pass over time gives the next step's (J_t, b_t) and the convergence test;
            # f is never stored whole. `jac` and `b` are the previous iteration's buffers (or
            # None): the blocked pass overwrites them, so no new T-long arrays are needed.
            dynamic, h0, xs = ops
            cell = eqx.combine(dynamic, static)
            if shard is not None:
                h0 = shard.entering(h0, s)  # the state before this device's first step

            def one(p, x, st):
                # One step's next linearisation (J_t, b_t = f_t − J_t s_{t−1}) and its test.
                f, jac = self._linearise_step(cell, p, x)
                err = jnp.abs(st - f)
                b = self._rhs(structure, jac, f, p)
                return jac, b, err, err <= atol + rtol * jnp.abs(f)

            # (Sharded: all local steps at once, the blocked pass's carries would have to be
            # typed as varying over the devices.)
            block = None if shard is not None else self._eval_block(structure, T)
            if block is None or T == 0:
                jac, b, err, ok = jax.vmap(one)(shift_in(h0, s), xs, s)
                err, ok = jnp.max(err), jnp.all(ok)
                return (
                    (jac, b, err, ok) if shard is None else (jac, b, shard.max(err), shard.all(ok))
                )
            N = s.shape[-1]
            block = min(block, T, max(EVAL_MIN_STEPS, EVAL_BLOCK_NUMBERS // max(N, 1)))
            return self._evaluate_blocks(one, h0, xs, s, jac, b, block)

        ops = (dynamic, h0, xs)
        jac, b, residual, converged = evaluate(ops, s)

        def step(ops, carry, active):
            # Under vmap the batch iterates in lockstep; a finished sequence (`active` False)
            # keeps its trajectory, and re-evaluating it reproduces its J, b and test.
            s, jac, b = carry
            s = solve_linearised(structure, jac, b, ops[1], s, active, recurrence)
            jac, b, residual, converged = evaluate(ops, s, jac, b)
            return (s, jac, b), residual, converged

        (s, jac, _), result, stats = iterate(
            step,
            ((s, jac, b), residual, converged),
            ops,
            max_iters=self.max_iters,
            divergence=self.divergence,
            # (A batch of sharded solves is one vmapped `lax.while_loop`: its carries are
            # typed per device.)
            lockstep=shard is None,
        )
        # `jac` was evaluated at the returned trajectory: the adjoint reuses it.
        return s, result, stats, jac

    def solve(self, cell, h0, xs, guess):
        strategy = self.recurrence
        if isinstance(strategy, Sharded):
            # The whole loop inside `shard_map`; a batch of sharded solves stays one program.
            s, result, stats = self._sharded(strategy, cell, h0, xs, guess)
            return SolveResult(s, result, stats, self._linearisation(cell, None))
        # Batched on a CPU, one sequence after another (measured, docs/benchmarks.md).
        dynamic, static = eqx.partition(cell, eqx.is_array)
        s, result, stats, jac = one_at_a_time_on_cpu(
            lambda d, h0, xs, guess: self._chunks(eqx.combine(d, static), h0, xs, guess),
            dynamic,
            h0,
            xs,
            guess,
        )
        return SolveResult(s, result, stats, self._linearisation(cell, jac))

    def _chunks(self, cell, h0, xs, guess):
        """`(states, result, stats, jacobians or None)` by the Newton loop, over the whole
        sequence or (`Chunked`) chunk by chunk."""
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        strategy = self.recurrence
        if isinstance(strategy, Pallas):  # one fused kernel per iteration, if the cell has one
            from .._kernels._fused import fused_newton

            fused = fused_newton(self, strategy, cell, h0, xs, guess)
            if fused is not None:
                return fused.states, fused.result, fused.stats, None
        if not isinstance(strategy, Chunked):
            return self._newton(cell, h0, xs, guess, strategy)
        L, inner = strategy.size, strategy.inner
        if L >= T:
            return self._newton(cell, h0, xs, guess, inner)
        # Sequential over chunks, Newton (parallel) inside each: memory scales with L, not T.
        # The T mod L steps left over form a last, shorter chunk (no padding, so nothing but
        # real steps enters the convergence test).
        C = T // L
        full = jax.tree_util.tree_map(lambda x: x[: C * L].reshape((C, L) + x.shape[1:]), xs)
        full_guess = None if guess is None else guess[: C * L].reshape(C, L, -1)

        def combine(carry, out):  # (the chunks' Jacobians are not kept)
            _, result, k, res = carry
            states, out_result, stats, _ = out
            result = RESULTS.where(result == RESULTS.successful, out_result, result)
            k = jnp.maximum(k, stats["num_steps"])
            res = jnp.maximum(res, stats["residual"])
            return (states[-1], result, k, res)

        def body(carry, chunk):
            # (`chunk` is the pair (xs, guess) of one chunk)
            out = self._newton(cell, carry[0], *chunk, inner)  # pyright: ignore[reportCallIssue]
            return combine(carry, out), out[0]

        zero = jnp.zeros((), jnp.abs(h0).dtype)
        init = (h0, RESULTS.successful, jnp.array(0), zero)
        carry, s = lax.scan(body, init, (full, full_guess))
        s = s.reshape(C * L, -1)
        if C * L < T:
            rest = jax.tree_util.tree_map(lambda x: x[C * L :], xs)
            rest_guess = None if guess is None else guess[C * L :]
            out = self._newton(cell, carry[0], rest, rest_guess, inner)
            carry = combine(carry, out)
            s = jnp.concatenate([s, out[0]])
        _, result, k, res = carry
        return s, result, {"num_steps": k, "residual": res}, None

    def _sharded(self, strategy: Sharded, cell, h0, xs, guess):
        """The Newton loop inside `shard_map` (`strategy.map`), each device on T/P steps. Any
        T works (padded at the end, which changes no earlier state; the extra states are
        dropped)."""
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        length = -(-T // strategy.size) * strategy.size
        xs = pad_time(xs, length)
        s = pad_time(initial_trajectory(h0, T, guess), length)
        params, static = eqx.partition(cell, eqx.is_array)
        local = strategy.local()

        def body(params, h0, xs, s):
            return self._newton(eqx.combine(params, static), h0, xs, s, local)[:3]

        s, result, stats = strategy.map(body, (params, h0), (xs, s), (True, False, False))
        return s[:T], result, stats


class DEER(AbstractNewton):
    """Newton's method on the whole trajectory with exact Jacobians (Lim et al., 2024).

    Each iteration linearises the cell along the current trajectory and solves the linear
    recurrence s_t = J_t s_{t−1} + (f_t − J_t s^old_{t−1}) with a parallel associative scan:
    O(log T) depth. J_t has the structure the cell declares (`cell.jacobian_structure`): N×N
    matrices for a dense cell (O(T·N²) memory), k×k blocks for `BlockDiagonal(k)` (O(T·N·k))
    or a diagonal (O(T·N)). Converges quadratically near the solution, in a handful of
    iterations for contractive cells; in exact arithmetic it is exact after at most T
    iterations. Gradients: one reverse scan with the transposed Jacobians.

    **Arguments:**

    - `rtol`, `atol`: convergence tolerances on |s_t − f(s_{t−1}, x_t)|; default eps^(3/4) of
        the state dtype.
    - `max_iters`: the most Newton iterations.
    - `recurrence`: how each linearised recurrence is solved, a `paratime.recurrences`
        object (keyword-only): `Associative()`, `Scan()`, `Chunked(size, inner=...)`
        (the Newton solve runs chunk by chunk, so that peak memory scales with size·N²
        instead of T·N²) or `Sharded(mesh, axis_name)` (the Newton loop inside `shard_map`,
        time split over the devices). None (default): the backend's measured choice.
    - `divergence`: stop with `RESULTS.diverged` when the residual exceeds this factor times
        its initial value.

    **Example:**

    ```python
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(max_iters=50))
    sol.stats["num_steps"], sol.stats["residual"]
    ```
    """

    adjoint: AbstractAdjoint = eqx.field(
        default=ImplicitAdjoint(), converter=or_default(ImplicitAdjoint()), kw_only=True
    )

    def linearisation(self, cell):
        return cell.structure

    def hint(self, result):
        return try_instead(result, ELK, QUASI_DEER)

    def _eval_block(self, structure, T):
        # Dense Jacobians are evaluated all at once, as measured; a diagonal or block-diagonal
        # cell's are read in blocks like QuasiDEER's, so its working memory stays O(T·N·k).
        if isinstance(structure, Dense):
            return None
        return cpu_eval_block(T)


class QuasiDEER(AbstractNewton):
    """Newton's method with each Jacobian projected onto a cheaper structure (by default its
    diagonal; Gonzalez et al., 2024).

    With the diagonal, each iteration costs an elementwise parallel scan: O(log T) depth,
    O(T·N) memory; with `structure=BlockDiagonal(k)` the diagonal k×k blocks are kept
    (O(T·N·k)). It converges linearly rather than quadratically (unless the cell's own
    Jacobian already has that structure), to the same (exact) trajectory; shipped cells give
    their diagonal in O(N). Gradients are exact too: the adjoint recurrence is solved by
    quasi-Newton iterations preconditioned with the projected Jacobians and exact
    vector–Jacobian products (falling back to a sequential reverse scan if those do not
    converge).

    **Arguments:** as `DEER`, plus

    - `structure`: the `paratime.structures` layout the Jacobians are projected onto:
        `Diagonal()` (default) or `BlockDiagonal(k)` (k must divide N).

    **Example:**

    ```python
    sol = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER(max_iters=200))
    block = paratime.QuasiDEER(structure=paratime.structures.BlockDiagonal(2))
    ```
    """

    structure: AbstractStructure = Diagonal()
    adjoint: AbstractAdjoint = eqx.field(
        default=IterativeAdjoint(), converter=or_default(IterativeAdjoint()), kw_only=True
    )

    def __check_init__(self):
        if not isinstance(self.structure, AbstractStructure):
            raise TypeError(
                "`structure` must be a paratime.structures object (Diagonal(), "
                f"BlockDiagonal(k), Dense()); got {type(self.structure).__name__}."
            )

    def linearisation(self, cell):
        return self.structure

    def hint(self, result):
        return try_instead(result, ELK)

    def _eval_block(self, structure, T):
        return cpu_eval_block(T)
