"""Automatic choice of the solver from the backend, T, N and the cell."""

import dataclasses
from typing import Any

import equinox as eqx
import jax

from .._adjoints import AbstractAdjoint, ImplicitAdjoint
from .._cell import AbstractCell, AbstractLinearCell
from .._checks import check_int
from .._platform import platform
from ._abstract import AbstractSolver
from ._hints import try_instead
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
# N=16 batch 16: even). Auto uses it while batch·N² ≤ DENSE_ADJOINT_MAX_NUMBERS (for any
# Jacobian structure: a diagonal GRU with N = 64 loses too, 1.32x; N = 16 wins, 0.17x at
# T = 1e4, 0.34x at T = 1e5) and 4·T·batch·N² bytes fit in DENSE_ADJOINT_MAX_BYTES; otherwise
# plain `Sequential`. Everything below comes from the cell's cost report (`AbstractCell.costs`).
# The adjoint streams one step's Jacobian from memory per step of its reverse scan, while
# backpropagation re-reads the step's operands. For a step that touches little memory next to
# its Jacobian (XLA's bytes accessed < CHEAP_STEP_BYTES_PER_JACOBIAN_BYTE × the Jacobian's
# bytes; float32: the Elman cell at N = 16, 1.9; N = 12 2.2; N = 8 2.8; an LSTM with N = 16
# 4.5; a GRU with N = 16 8.8) backpropagation wins once the Jacobians leave the caches.
# Adjoint/BPTT gradient time, one sequence, float32 (benchmarks/auto_crossover.py;
# docs/benchmarks.md, item 15): Elman N=16 0.49x at 10 MB of Jacobians (T=1e4), 1.09x at
# 31 MB (T=3e4), 1.13x at 102 MB (T=1e5); Elman N=12 0.72x at 58 MB; N=8 0.47x at 26 MB and
# 0.43x at 256 MB; LSTM N=16 0.48x at 31 MB and 0.52x at 102 MB; GRU N=16 0.55x at 102 MB.
# So for such cells the limit is CHEAP_STEP_ADJOINT_MAX_BYTES.
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
CHEAP_STEP_BYTES_PER_JACOBIAN_BYTE = 2.05
CHEAP_STEP_ADJOINT_MAX_BYTES = 28e6
DENSE_ADJOINT_MAX_BYTES = 2**30
JACOBIAN_MAX_FLOPS = 7500


class Auto(AbstractSolver):
    """Choose a solver from the backend, the sequence length T, the state size N, the batch
    size and the cell.

    - cells that are linear in their state (`AbstractLinearCell`): `LinearScan` (exact);
    - CPU: the sequential scan (on a few cores it is fastest at every measured point). For
      cells with analytic Jacobians (`AbstractCell`) it takes gradients by the implicit
      adjoint (`Sequential(adjoint=ImplicitAdjoint())`), which beats backpropagation through
      time (BPTT) while batch·N² ≤ 512 (for any Jacobian structure; e.g. N ≤ 16 for one
      sequence, N ≤ 4 for a batch of 32), one step's value and Jacobian cost at most 7 500
      flops, and T·batch·N² float32 numbers fit in 1 GiB (28 MB for a cell whose step
      accesses fewer than 2.05 bytes per byte of its Jacobian, such as the Elman cell at
      N = 16: so cheap a step wins by BPTT once its Jacobians leave the caches); otherwise
      `Sequential` (BPTT). The flops
      and bytes come from the cell's cost report, `cell.costs(h0, x)`, at the shapes of `h0`
      and `x` when given (as `unroll` does), else at the cell's own `expected_shapes()`;
      never from the cell's class;
    - GPU/TPU, T < 2048: `Sequential`;
    - GPU/TPU, N ≤ 64: `DEER`; larger N: `QuasiDEER`.

    `unroll` resolves `Auto` before solving, with the batch size of any `jax.vmap` around it
    (one applied outside a `jax.jit` of the call is not seen, so `jit(vmap(f))` and
    `vmap(jit(f))` may choose differently); `Auto(batch=B)` fixes the batch size the choice
    is made for, so that both choose alike. `Auto.select` shows the choice.

    **Example:**

    ```python
    import jax, paratime
    cell = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    paratime.Auto().select(cell, T=100_000, N=16)  # CPU: Sequential(adjoint=ImplicitAdjoint())
    paratime.Auto().select(cell, T=100_000, N=16, batch=16)  # Sequential() on a CPU
    ```
    """

    batch: int | None = eqx.field(default=None, static=True, kw_only=True)
    # None: the chosen solver's own adjoint; otherwise it replaces the chosen solver's.
    adjoint: AbstractAdjoint | None = eqx.field(default=None, kw_only=True)  # type: ignore[assignment]

    def __check_init__(self):
        check_int("batch", self.batch, minimum=1, allow_none=True)

    def hint(self, result):
        # (`unroll` resolves `Auto` before solving: the chosen solver's hint is the one shown.)
        return try_instead(result)

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
        """The solver `unroll` would use (with `adjoint`, if set).

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
        solver = self._choose(cell, T, N, backend, batch, h0, x)
        if self.adjoint is not None:
            solver = dataclasses.replace(solver, adjoint=self.adjoint)
        return solver

    def _choose(self, cell, T, N, backend, batch, h0, x) -> AbstractSolver:
        if isinstance(cell, AbstractLinearCell):
            return LinearScan()
        backend = platform() if backend is None else backend
        if backend == "cpu":
            # Cells without analytic Jacobians (autodiff ones) keep BPTT: not measured faster.
            if not isinstance(cell, AbstractCell):
                return Sequential()
            costs = cell.costs(h0, x)  # at the shapes given, else at the cell's own
            # batch·N² for any structure: the measured crossover is one of per-step overhead
            # against the step's size, not of the Jacobian's layout (a diagonal GRU at N = 64,
            # 64 Jacobian numbers per step, loses with the adjoint: 1.32x BPTT at T = 1e4).
            numbers = batch * N * N
            cheap = (
                costs is not None
                and costs.step_bytes < CHEAP_STEP_BYTES_PER_JACOBIAN_BYTE * costs.jacobian_bytes
            )
            limit = CHEAP_STEP_ADJOINT_MAX_BYTES if cheap else DENSE_ADJOINT_MAX_BYTES
            if numbers > DENSE_ADJOINT_MAX_NUMBERS or 4 * T * numbers > limit:
                return Sequential()
            if costs is not None and costs.jacobian_flops > JACOBIAN_MAX_FLOPS:
                return Sequential()
            return Sequential(adjoint=ImplicitAdjoint())
        if T < GPU_MIN_T:
            return Sequential()
        return DEER() if N <= GPU_DENSE_MAX_N else QuasiDEER()

    def solve(self, cell, h0, xs, guess):
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        return self.select(cell.cell, T, h0.shape[0]).solve(cell, h0, xs, guess)
