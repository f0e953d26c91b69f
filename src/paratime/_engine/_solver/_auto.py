"""Automatic choice of the solver from the backend, T, N and the cell."""

import functools
from typing import Any, Literal

import equinox as eqx
import jax

from .._adjoints import AbstractAdjoint, ImplicitAdjoint, IterativeAdjoint
from .._checks import check_int, check_tolerances
from .._platform import platform
from .._structures import Diagonal
from ._abstract import AbstractSolver
from ._linear import LinearScan
from ._newton import DEER, QuasiDEER
from ._sequential import Sequential

# Crossovers measured with `paratime bench` (see docs/benchmarks.md).
# CPU: the sequential scan is the fastest forward solve at every grid point measured. Its
# gradient is fastest by the implicit (dense) adjoint, one reverse linear scan with the
# analytic Jacobians, while backpropagation through `lax.scan` is bound by the per-step
# overhead of its backward loop: for one sequence with a small state (GRU N=4, 16: 2.5-4x
# faster). The adjoint stores and scans batch·N² Jacobian numbers per step, while batched
# backpropagation spreads its per-step overhead over the batch, so the adjoint loses for larger
# states (GRU N=32: 1.1x slower, N=64: 2x) and batches (LSTM N=4 batch 16: 1.25x slower; GRU
# N=16 batch 16: even). Auto uses it while batch·N² ≤ DENSE_ADJOINT_MAX_NUMBERS and the
# T·batch·N² Jacobians fit in DENSE_ADJOINT_MAX_BYTES; otherwise plain `Sequential`.
# The Elman cell's step is so cheap that backpropagation through it beats the adjoint once its
# Jacobians leave the caches: adjoint/BPTT 0.59x at 26 MB (N=8, T=1e5), 1.49x at 31 MB (N=16,
# T=3e4), 1.21x at 58 MB (N=12, T=1e5); so for the Elman cell the limit is ELMAN_ADJOINT_MAX_BYTES.
# The adjoint also evaluates every step's Jacobian, which BPTT does not: where that costs more
# than JACOBIAN_MAX_FLOPS per step (XLA's count for the cell's `value_and_jacobian`), plain
# `Sequential` wins. Measured on the DSR training step (shPLRNN + GTF, batch 16 × 200 steps,
# adjoint/BPTT step time): M=5 H=50 (6.3 kflop) 0.82x, M=3 H=50 (2.7 kflop) 0.82x,
# M=3 H=200 (10.5 kflop) 1.16x, M=5 H=200 (24.9 kflop) 1.11x; GRU N=16 (4.4 kflop) wins 2.5-4x.
# GPU (not yet measured here): the parallel solvers for long sequences, DEER for small N and
# QuasiDEER (O(T·N) memory) for large N.
GPU_MIN_T = 2048
GPU_DENSE_MAX_N = 64
DENSE_ADJOINT_MAX_NUMBERS = 512
ELMAN_ADJOINT_MAX_BYTES = 28e6
DENSE_ADJOINT_MAX_BYTES = 2**30
JACOBIAN_MAX_FLOPS = 7500


@functools.lru_cache(maxsize=256)
def _jacobian_flops_of(static: Any, spec: Any) -> float | None:
    def jacobian(dynamic):
        cell, h, x = eqx.combine(dynamic, static)
        return cell.value_and_jacobian(h, x)

    try:
        cost = jax.jit(jacobian).lower(spec).cost_analysis()
    except Exception:  # a backend without cost analysis: no estimate
        return None
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    flops = (cost or {}).get("flops")
    return None if flops is None else float(flops)


def jacobian_flops(cell: Any, h: Any, x: Any) -> float | None:
    """XLA's flop count of one `cell.value_and_jacobian(h, x)` (one step's value and
    Jacobian), or None where it cannot be had. Computed once per cell type and shapes."""
    dynamic, static = eqx.partition((cell, h, x), eqx.is_array)
    spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), dynamic)
    leaves, treedef = jax.tree_util.tree_flatten(spec)
    try:
        return _jacobian_flops_of(static, jax.tree_util.tree_unflatten(treedef, leaves))
    except TypeError:  # an unhashable static part: no cache, no estimate
        return None


def ImplicitSequential(
    kind: Literal["dense", "diagonal"] = "dense",
    rtol: float | None = None,
    atol: float | None = None,
    max_iters: int = 100,
) -> Sequential:
    """`Sequential(adjoint=ImplicitAdjoint())` (`kind="dense"`) or
    `Sequential(adjoint=IterativeAdjoint(...))` (`kind="diagonal"`): the name this combination
    had before the adjoint became a field. `Auto()` picks it on a CPU.

    The forward pass is the exact sequential scan; the gradient is one reverse linear
    recurrence over the trajectory with the transposed Jacobians, or, for large states, the
    O(T·N)-memory iterative one, instead of backpropagation through the scan.

    **Arguments:**

    - `kind`: `"dense"` or `"diagonal"` (the adjoint).
    - `rtol`, `atol`, `max_iters`: tolerances of the iterative ("diagonal") adjoint.
    """
    if kind not in ("dense", "diagonal"):
        raise ValueError(f"`kind` must be 'dense' or 'diagonal'; got {kind!r}.")
    check_tolerances(rtol, atol)
    check_int("max_iters", max_iters, minimum=1)
    if kind == "dense":
        return Sequential(adjoint=ImplicitAdjoint())
    adjoint = IterativeAdjoint(Diagonal(), rtol=rtol, atol=atol, max_iters=max_iters)
    return Sequential(adjoint=adjoint)


class Auto(AbstractSolver):
    """Choose a solver from the backend, the sequence length T, the state size N, the batch
    size and the cell.

    - cells that are linear in their state (`AbstractLinearCell`): `LinearScan` (exact);
    - CPU: the sequential scan (on a few cores it is fastest at every measured point). For
      cells with analytic Jacobians (`AbstractCell`) while batch·N² ≤ 512 (e.g. N ≤ 16 for one
      sequence, N ≤ 4 for a batch of 32), one step's value and Jacobian cost at most 7 500
      flops (XLA's count; known when `h0` and `x` are given, as `unroll` does) and the
      T·batch·N² Jacobians fit in 1 GiB (28 MB for the Elman cell, whose cheap step wins by
      backpropagation beyond that), with gradients by the implicit adjoint
      (`ImplicitSequential`), which beats backpropagation through time there; otherwise
      `Sequential` (BPTT);
    - GPU/TPU, T < 2048: `Sequential`;
    - GPU/TPU, N ≤ 64: `DEER`; larger N: `QuasiDEER`.

    `unroll` resolves `Auto` before solving, with the batch size of any `jax.vmap` around it
    (one applied outside a `jax.jit` of the call is not seen, so `jit(vmap(f))` and
    `vmap(jit(f))` may choose differently); `Auto(batch=B)` fixes the batch size the choice
    is made for, so that both choose alike. `Auto.select` shows the choice.

    **Example:**

    ```python
    paratime.Auto().select(cell, T=100_000, N=16)  # ImplicitSequential() on a CPU (a GRU)
    paratime.Auto().select(cell, T=100_000, N=16, batch=16)  # Sequential() on a CPU
    ```
    """

    batch: int | None = eqx.field(default=None, static=True, kw_only=True)
    adjoint: AbstractAdjoint | None = eqx.field(default=None, kw_only=True)

    def __check_init__(self):
        check_int("batch", self.batch, minimum=1, allow_none=True)

    def select(
        self,
        cell,
        T: int,
        N: int,
        backend: str | None = None,
        batch: int = 1,
        *,
        h0: Any = None,
        x: Any = None,
    ) -> AbstractSolver:
        """The solver `unroll` would use.

        **Arguments:**

        - `cell`: the cell.
        - `T`, `N`: the sequence length and the size of the (ravelled) state.
        - `backend`: the platform to choose for (`"cpu"`, `"gpu"`, `"tpu"`); by default the
            one being traced for (`paratime.for_platform`) or JAX's default backend.
        - `batch`: the number of sequences solved together (a `jax.vmap` around `unroll`).
        - `h0`, `x`: an initial state and one input step. When given (as `unroll` does), the
            cost of one step's Jacobian is counted and weighs in on a CPU.

        **Returns:**

        A solver instance.
        """
        from ...cells import AbstractCell, AbstractLinearCell, Elman

        if isinstance(cell, AbstractLinearCell):
            return LinearScan()
        backend = platform() if backend is None else backend
        if backend == "cpu":
            numbers = batch * N * N  # Jacobian numbers per step
            limit = ELMAN_ADJOINT_MAX_BYTES if isinstance(cell, Elman) else DENSE_ADJOINT_MAX_BYTES
            small = numbers <= DENSE_ADJOINT_MAX_NUMBERS and 4 * T * numbers <= limit
            # Cells without analytic Jacobians (autodiff ones) keep BPTT: not measured faster.
            if not (small and isinstance(cell, AbstractCell)):
                return Sequential()
            flops = None if h0 is None or x is None else jacobian_flops(cell, h0, x)
            if flops is not None and flops > JACOBIAN_MAX_FLOPS:
                return Sequential()
            return ImplicitSequential()
        if T < GPU_MIN_T:
            return Sequential()
        return DEER() if N <= GPU_DENSE_MAX_N else QuasiDEER()

    def solve(self, cell, h0, xs, guess):
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        return self.select(cell.cell, T, h0.shape[0]).solve(cell, h0, xs, guess)
