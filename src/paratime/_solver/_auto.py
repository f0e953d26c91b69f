"""Automatic choice of the solver from the backend, T, N and the cell."""

import jax

from ._abstract import AbstractSolver
from ._linear import LinearScan
from ._newton import DEER, QuasiDEER
from ._sequential import Sequential

# Crossovers measured with `paratime bench` (see docs/benchmarks.md). On a CPU the
# sequential scan wins at every grid point; on a GPU the parallel solvers win for long
# sequences, DEER for small N and QuasiDEER (O(T·N) memory) for large N.
GPU_MIN_T = 2048
GPU_DENSE_MAX_N = 64


class Auto(AbstractSolver):
    """Choose a solver from the backend, the sequence length T, the state size N and the cell.

    - cells that are linear in their state (`AbstractLinearCell`): `LinearScan` (exact);
    - CPU: `Sequential` (on a few cores the sequential scan is fastest; measured);
    - GPU/TPU, T < 2048: `Sequential`;
    - GPU/TPU, N ≤ 64: `DEER`; larger N: `QuasiDEER`.

    `unroll` resolves `Auto` before solving; `Auto.select` shows the choice.

    **Example:**

    ```python
    paratime.Auto().select(cell, T=100_000, N=16)  # Sequential() on a CPU
    ```
    """

    def select(self, cell, T: int, N: int, backend: str | None = None) -> AbstractSolver:
        from ..cells import AbstractLinearCell

        if isinstance(cell, AbstractLinearCell):
            return LinearScan()
        backend = jax.default_backend() if backend is None else backend
        if backend == "cpu" or T < GPU_MIN_T:
            return Sequential()
        return DEER() if N <= GPU_DENSE_MAX_N else QuasiDEER()

    def solve(self, cell, h0, xs, guess):
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        return self.select(cell.cell, T, h0.shape[0]).solve(cell, h0, xs, guess)
