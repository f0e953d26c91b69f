"""`Auto` decides from the costs each cell reports (`AbstractCell.costs`), never from its class."""

import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime._engine._cell import CellCosts
from paratime._engine._solver._auto import (
    CHEAP_STEP_ADJOINT_MAX_BYTES,
    CHEAP_STEP_BYTES_PER_JACOBIAN_BYTE,
    JACOBIAN_MAX_FLOPS,
)

IMPLICIT = paratime.Sequential(adjoint=paratime.ImplicitAdjoint())


class Tanh(paratime.cells.AbstractCell):
    """A user-defined Elman-like cell whose cost report is whatever the test says."""

    weight: jax.Array
    report: CellCosts | None = None

    def __call__(self, h, x):
        return jnp.tanh(self.weight @ h + x)

    def value_and_jacobian(self, h, x):
        h_next = self(h, x)
        return h_next, (1 - h_next**2)[:, None] * self.weight

    def costs(self, h=None, x=None):
        return self.report


def test_costs_are_counted_by_xla_and_cached(getkey):
    gru = paratime.cells.GRU(3, 16, key=getkey())
    costs = gru.costs()  # at its own shapes
    assert isinstance(costs, CellCosts)
    itemsize = gru.weight_hh.dtype.itemsize
    assert costs.jacobian_numbers == 16 * 16 and costs.jacobian_bytes == 256 * itemsize
    assert 0 < costs.step_flops < costs.jacobian_flops  # the Jacobian costs more than the step
    assert costs.step_bytes > 0
    h, x = jnp.zeros(16), jnp.zeros(3)
    assert gru.costs(h, x) == costs  # the same shapes, the same (cached) count
    # A cell whose Jacobian has a structure reports that structure's numbers.
    block = paratime.cells.BlockGRU(3, 16, block_size=4, key=getkey())
    assert block.costs().jacobian_numbers == 16 * 4
    # No shapes, none declared: no report.
    assert Tanh(jnp.eye(4)).costs() is None
    assert paratime.cells.AbstractCell.costs(Tanh(jnp.eye(4))) is None


def test_a_cheap_step_keeps_the_adjoint_only_while_its_jacobians_fit_the_caches():
    """The Elman rule, as a rule on the step's cost, valid for any cell reporting costs."""
    n, numbers = 16, 256.0
    cheap = CellCosts(
        600.0, 0.9 * CHEAP_STEP_BYTES_PER_JACOBIAN_BYTE * 4 * numbers, 900.0, numbers, 4 * numbers
    )
    costly = cheap._replace(step_bytes=2 * cheap.step_bytes)
    select = paratime.Auto().select
    T_fits = int(CHEAP_STEP_ADJOINT_MAX_BYTES / (4 * numbers)) - 1
    for report, far in ((cheap, paratime.Sequential()), (costly, IMPLICIT)):
        cell = Tanh(jnp.eye(n), report)
        assert select(cell, T_fits, n, backend="cpu") == IMPLICIT
        assert select(cell, 2 * T_fits, n, backend="cpu") == far
    # A costly Jacobian: backpropagation through the scan.
    cell = Tanh(jnp.eye(n), cheap._replace(jacobian_flops=2.0 * JACOBIAN_MAX_FLOPS))
    assert select(cell, 100, n, backend="cpu") == paratime.Sequential()
    # No report: the limits on numbers and on 1 GiB only.
    assert select(Tanh(jnp.eye(n)), 2 * T_fits, n, backend="cpu") == IMPLICIT


@pytest.mark.parametrize(
    "n, T, want_adjoint",
    [(16, 10**4, True), (16, 3 * 10**4, False), (12, 10**5, True), (8, 10**6, True)],
)
def test_the_shipped_elman_cell_by_its_costs(n, T, want_adjoint, getkey):
    # Measured crossovers (see the comment in _auto.py): adjoint/BPTT 0.49x, 1.09x, 0.72x, 0.43x.
    elman = paratime.cells.Elman(3, n, key=getkey())
    want = IMPLICIT if want_adjoint else paratime.Sequential()
    assert paratime.Auto().select(elman, T, n, backend="cpu") == want
    # The same at the shapes unroll passes, in float32 and float64.
    for dtype in (jnp.float32, jnp.float64):
        h, x = jnp.zeros(n, dtype), jnp.zeros(3, dtype)
        assert paratime.Auto().select(elman, T, n, backend="cpu", h0=h, x=x) == want


def test_the_engine_does_not_import_the_cells():
    import ast
    import inspect

    from paratime._engine._solver import _auto

    tree = ast.parse(inspect.getsource(_auto))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert modules and not any("cells" in m for m in modules)  # the engine's own AbstractCell
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "AbstractCell" in names and not names & {"Elman", "GRU", "LSTM"}


@pytest.mark.parametrize("n, want_adjoint", [(16, True), (64, False)])
def test_a_diagonal_jacobian_counts_as_n_squared(n, want_adjoint, getkey):
    # Measured (benchmarks/auto_crossover.py, T = 1e4): adjoint/BPTT 0.17x at N = 16, 1.32x at
    # N = 64, although the diagonal cell's Jacobian holds only N numbers per step.
    cell = paratime.cells.DiagonalGRU(3, n, key=getkey())
    want = IMPLICIT if want_adjoint else paratime.Sequential()
    assert paratime.Auto().select(cell, 10**4, n, backend="cpu") == want


def test_auto_adjoint_replaces_the_chosen_solvers():
    gru = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    iterative = paratime.IterativeAdjoint()
    chosen = paratime.Auto(adjoint=iterative).select(gru, 1000, 16, backend="cpu")
    assert chosen == paratime.Sequential(adjoint=iterative)
    assert paratime.Auto().select(gru, 1000, 16, backend="cpu") == IMPLICIT  # its own
