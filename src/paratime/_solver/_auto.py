"""Automatic choice of the solver from the backend, T, N and the cell."""

import jax

from ._abstract import AbstractSolver, Adjoint
from ._linear import LinearScan
from ._newton import DEER, QuasiDEER
from ._sequential import Sequential

# Crossovers measured with `paratime bench` (see docs/benchmarks.md).
# CPU: the sequential scan is the fastest forward solve at every grid point measured. Its
# gradient is fastest by the implicit (dense) adjoint, one reverse linear scan with the
# analytic Jacobians, for small states (GRU N=4, 16: 3-7x faster than backpropagation through
# `lax.scan`; LSTM with a 32-number state: even) but slower for large ones (GRU N=64: 3x
# slower; N=256 with the diagonal adjoint: 2x slower), so above DENSE_ADJOINT_MAX_N, or when
# the T·N² Jacobians would exceed DENSE_ADJOINT_MAX_BYTES, Auto keeps plain `Sequential`.
# GPU (not yet measured here): the parallel solvers for long sequences, DEER for small N and
# QuasiDEER (O(T·N) memory) for large N.
GPU_MIN_T = 2048
GPU_DENSE_MAX_N = 64
DENSE_ADJOINT_MAX_N = 32
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
    - CPU: the sequential scan (on a few cores it is fastest at every measured point). For
      cells with analytic Jacobians (`AbstractCell`) and states of N ≤ 32 numbers (while the
      T·N² Jacobians fit in 1 GiB), with gradients by the implicit adjoint
      (`ImplicitSequential`), which beats backpropagation through time there; otherwise
      `Sequential` (BPTT);
    - GPU/TPU, T < 2048: `Sequential`;
    - GPU/TPU, N ≤ 64: `DEER`; larger N: `QuasiDEER`.

    `unroll` resolves `Auto` before solving; `Auto.select` shows the choice.

    **Example:**

    ```python
    paratime.Auto().select(cell, T=100_000, N=16)  # ImplicitSequential() on a CPU (a GRU)
    ```
    """

    def select(self, cell, T: int, N: int, backend: str | None = None) -> AbstractSolver:
        from ..cells import AbstractCell, AbstractLinearCell

        if isinstance(cell, AbstractLinearCell):
            return LinearScan()
        backend = jax.default_backend() if backend is None else backend
        if backend == "cpu":
            small = N <= DENSE_ADJOINT_MAX_N and 4 * T * N * N <= DENSE_ADJOINT_MAX_BYTES
            # Cells without analytic Jacobians (autodiff ones) keep BPTT: not measured faster.
            return (
                ImplicitSequential() if small and isinstance(cell, AbstractCell) else Sequential()
            )
        if T < GPU_MIN_T:
            return Sequential()
        return DEER() if N <= GPU_DENSE_MAX_N else QuasiDEER()

    def solve(self, cell, h0, xs, guess):
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        return self.select(cell.cell, T, h0.shape[0]).solve(cell, h0, xs, guess)
