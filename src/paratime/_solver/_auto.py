"""Automatic choice of the solver from the backend, T, N and the cell."""

import jax

from ._abstract import AbstractSolver, Adjoint
from ._linear import LinearScan
from ._newton import DEER, QuasiDEER
from ._sequential import Sequential

# Crossovers measured with `paratime bench` (see docs/benchmarks.md).
# CPU: the sequential scan is the fastest forward solve at every grid point measured, and
# its gradient is fastest by the implicit adjoint (one reverse linear scan with the analytic
# Jacobians) rather than by backpropagation through `lax.scan`. The dense adjoint stores
# T·N² Jacobian entries, so above DENSE_ADJOINT_MAX_BYTES the O(T·N) diagonal one is used.
# GPU (not yet measured here): the parallel solvers for long sequences, DEER for small N and
# QuasiDEER (O(T·N) memory) for large N.
GPU_MIN_T = 2048
GPU_DENSE_MAX_N = 64
DENSE_ADJOINT_MAX_N = 64
DENSE_ADJOINT_MAX_BYTES = 2**30


class ImplicitSequential(Sequential):
    """`Sequential` forward (`lax.scan`), differentiated by the implicit adjoint method.

    The forward pass is the exact sequential scan; the gradient is one reverse linear
    recurrence over the converged trajectory (`adjoint="dense"`, with the transposed full
    Jacobians) or, for large states, the O(T·N)-memory iterative one (`adjoint="diagonal"`),
    instead of backpropagation through the scan. On a CPU this makes a training step several
    times faster (measured in docs/benchmarks.md). `Auto()` picks it on a CPU.

    **Arguments:**

    - `kind`: `"dense"` or `"diagonal"` (the adjoint).
    - `rtol`, `atol`, `max_iters`: tolerances of the iterative ("diagonal") adjoint; the default
        test is relative, max|λ − g − Jᵀλ| ≤ eps^(3/4)·max|λ|.
    """

    kind: Adjoint = "dense"
    rtol: float | None = None
    atol: float | None = None
    max_iters: int = 100

    def __check_init__(self):
        if self.kind not in ("dense", "diagonal"):
            raise ValueError(f"`kind` must be 'dense' or 'diagonal'; got {self.kind!r}.")

    @property
    def adjoint(self) -> Adjoint:  # type: ignore[override]
        return self.kind

    @property
    def adjoint_atol(self) -> float:
        return 0.0 if self.atol is None else self.atol


class Auto(AbstractSolver):
    """Choose a solver from the backend, the sequence length T, the state size N and the cell.

    - cells that are linear in their state (`AbstractLinearCell`): `LinearScan` (exact);
    - CPU: the sequential scan (on a few cores it is fastest at every measured point); for
      shipped cells (analytic Jacobians) with gradients by the implicit adjoint
      (`ImplicitSequential`: dense for N ≤ 64 while the T·N² Jacobians fit in 1 GiB, else
      diagonal), which beats backpropagation through time; other cells: `Sequential`;
    - GPU/TPU, T < 2048: `Sequential`;
    - GPU/TPU, N ≤ 64: `DEER`; larger N: `QuasiDEER`.

    `unroll` resolves `Auto` before solving; `Auto.select` shows the choice.

    **Example:**

    ```python
    paratime.Auto().select(cell, T=100_000, N=16)  # ImplicitSequential() on a CPU
    ```
    """

    def select(self, cell, T: int, N: int, backend: str | None = None) -> AbstractSolver:
        from ..cells import AbstractCell, AbstractLinearCell

        if isinstance(cell, AbstractLinearCell):
            return LinearScan()
        backend = jax.default_backend() if backend is None else backend
        if backend == "cpu":
            if not isinstance(cell, AbstractCell):  # autodiff Jacobians: BPTT is cheaper
                return Sequential()
            dense = N <= DENSE_ADJOINT_MAX_N and 4 * T * N * N <= DENSE_ADJOINT_MAX_BYTES
            return ImplicitSequential("dense" if dense else "diagonal")
        if T < GPU_MIN_T:
            return Sequential()
        return DEER() if N <= GPU_DENSE_MAX_N else QuasiDEER()

    def solve(self, cell, h0, xs, guess):
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        return self.select(cell.cell, T, h0.shape[0]).solve(cell, h0, xs, guess)
