"""Malformed arguments raise `ValueError` (or `TypeError`) naming the argument."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime._engine._solver import LinearScan

N, D, T = 3, 2, 5


class Cell:
    """A plain callable (not even an eqx.Module): h' = tanh(h + sum(x))."""

    def __call__(self, h, x):
        return jnp.tanh(h + jnp.sum(x))


cell = Cell()
h0 = jnp.zeros(N)
xs = jnp.ones((T, D))


def unroll(**kwargs):
    args = {"cell": cell, "h0": h0, "xs": xs, "solver": paratime.DEER()}
    args.update(kwargs)
    return paratime.unroll(args.pop("cell"), args.pop("h0"), args.pop("xs"), **args)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"h0": jnp.zeros(N, jnp.int32)}, "h0"),  # integer state
        ({"h0": (jnp.zeros(N), jnp.zeros(N, jnp.float32))}, "h0"),  # mixed dtypes
        ({"h0": ()}, "h0"),  # no arrays
        ({"xs": jnp.float64(1.0)}, "xs"),  # no time axis
        ({"xs": jnp.ones((0, D))}, "xs"),  # T = 0
        ({"xs": (jnp.ones((T, D)), jnp.ones((T + 1, D)))}, "xs"),  # ragged lengths
        ({"xs": ()}, "xs"),
        ({"guess": jnp.zeros((T + 1, N))}, "guess"),
        ({"guess": jnp.zeros((T, N + 1))}, "guess"),
        ({"guess": (jnp.zeros((T, N)), jnp.zeros((T, N)))}, "guess"),
        ({"fallback": "scan"}, "fallback"),
        ({"fallback": True}, "fallback"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        unroll(**kwargs)


def test_cell_output_mismatch():
    with pytest.raises(ValueError, match="`cell"):
        unroll(cell=lambda h, x: jnp.concatenate([h, h]))  # wrong shape
    with pytest.raises(ValueError, match="`cell"):
        unroll(cell=lambda h, x: (h, h))  # wrong structure
    with pytest.raises(ValueError, match="`cell"):
        unroll(cell=lambda h, x: h.astype(jnp.float32))  # wrong dtype


def test_cell_that_cannot_take_the_inputs():
    """The error names the cell call and the shapes it was given."""
    with pytest.raises(ValueError, match="cell") as info:
        unroll(cell=lambda h, x: h + jnp.ones((N, N)) @ x)  # x has size D, not N
    assert "h0" in str(info.value) and "xs" in str(info.value)


def test_non_callable_cell_and_bad_solver():
    with pytest.raises(TypeError, match="`cell`"):
        unroll(cell=jnp.ones(3))
    with pytest.raises(TypeError, match="`solver`"):
        unroll(solver="deer")


def test_linear_scan_needs_a_linear_cell():
    with pytest.raises(ValueError, match="AbstractLinearCell"):
        unroll(solver=LinearScan())


def test_bad_solver_settings():
    with pytest.raises(ValueError, match="max_iters"):
        paratime.DEER(max_iters=-1)
    with pytest.raises(ValueError, match="size"):
        paratime.QuasiDEER(recurrence=paratime.recurrences.Chunked(0))


def test_wrong_dtype_inputs_pass_through_to_the_cell():
    """Integer inputs are legal (e.g. token ids); only the state must be inexact."""
    sol = unroll(cell=lambda h, x: jnp.tanh(h + x.sum()), xs=jnp.ones((T, D), jnp.int32))
    assert sol.states.shape == (T, N)


A = jnp.ones((T, N))
B = jnp.ones((T, N))
H0 = jnp.ones(N)


@pytest.mark.parametrize(
    "a,b,h,name",
    [
        (jnp.ones((T,)), B, H0, "a"),  # 1-D
        (jnp.ones((T, N, N, N, N)), B, H0, "a"),  # 5-D
        (jnp.ones((T, N + 1)), B, H0, "a"),  # diagonal of the wrong size
        (jnp.ones((T, N, N + 1)), B, H0, "a"),  # non-square
        (jnp.ones((T + 1, N)), B, H0, "a"),  # wrong length
        (jnp.ones((T, 2, 2, 2)), B, H0, "a"),  # blocks that do not tile N
        (A, jnp.ones((T,)), H0, "b"),
        (A, B, jnp.ones(N + 1), "h0"),
        (A, B, jnp.ones((1, N)), "h0"),
        (jnp.ones((T, N), jnp.int32), B, H0, "a"),
        (A, jnp.ones((T, N), jnp.int32), H0, "b"),
        (A, B, jnp.ones(N, jnp.int32), "h0"),
    ],
)
def test_linear_recurrence_validation(a, b, h, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        paratime.linear_recurrence(a, b, h)


def test_linear_recurrence_bad_options():
    with pytest.raises(ValueError, match="`size`"):
        paratime.linear_recurrence(A, B, H0, recurrence=paratime.recurrences.Chunked(0))
    with pytest.raises(ValueError, match="`size`"):
        paratime.linear_recurrence(A, B, H0, recurrence=paratime.recurrences.Chunked(2.5))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`recurrence`"):
        paratime.linear_recurrence(A, B, H0, recurrence="fast")  # type: ignore[arg-type]


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: paratime.DEER(rtol=-1.0), "rtol"),
        (lambda: paratime.DEER(rtol=NAN), "rtol"),
        (lambda: paratime.QuasiDEER(atol=-1e-3), "atol"),
        (lambda: paratime.QuasiDEER(atol=INF), "atol"),
        (lambda: paratime.DEER(max_iters=0), "max_iters"),
        (lambda: paratime.DEER(max_iters=2.5), "max_iters"),
        (lambda: paratime.DEER(divergence=0.5), "divergence"),
        (lambda: paratime.DEER(divergence=NAN), "divergence"),
        (lambda: paratime.ELK(rtol=-1.0), "rtol"),
        (lambda: paratime.ELK(max_iters=0), "max_iters"),
        (lambda: paratime.ELK(damping=-1.0), "damping"),
        (lambda: paratime.ELK(damping=NAN), "damping"),
        (lambda: paratime.ELK(shrink=3.0, grow=0.3), "shrink"),
        (lambda: paratime.ELK(shrink=0.0), "shrink"),
        (lambda: paratime.ELK(grow=0.5), "grow"),
        (lambda: paratime.ELK(max_merit_growth=0.5), "max_merit_growth"),
        (lambda: paratime.Parareal(0), "num_slices"),
        (lambda: paratime.Parareal(2.5), "num_slices"),  # type: ignore[arg-type]
        (lambda: paratime.Parareal(4, coarse_stride=0), "coarse_stride"),
        (lambda: paratime.Parareal(4, max_iters=-1), "max_iters"),
        (lambda: paratime.Parareal(4, rtol=-1.0), "rtol"),
        (lambda: paratime.DEER(adjoint=paratime.AutodiffAdjoint()), "adjoint"),
        (lambda: paratime.ELK(adjoint=paratime.AutodiffAdjoint()), "adjoint"),
        (lambda: paratime.IterativeAdjoint(rtol=-1.0), "rtol"),
        (lambda: paratime.IterativeAdjoint(max_iters=0), "max_iters"),
    ],
)
def test_solver_settings_are_validated(make, name):
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        make()
    assert "must be" in str(info.value)  # and what is allowed


def test_quasideer_structure_is_validated():
    with pytest.raises(TypeError, match="`structure`"):
        paratime.QuasiDEER(structure="block")  # type: ignore[arg-type]
    solver = paratime.QuasiDEER(structure=paratime.structures.BlockDiagonal(2))
    with pytest.raises(ValueError, match="multiple of k"):
        unroll(solver=solver)  # N = 3


class _Plain(eqx.Module):
    """A cell that declares no shapes: 4 units, inputs of size 4."""

    weight: jax.Array

    def __call__(self, h, x):
        return jnp.tanh(self.weight @ h + x)


def test_shape_mismatch_names_h0_and_xs_and_the_cell():
    # A cell that does not declare its shapes: the message names both candidates and the cell.
    cell = _Plain(jnp.eye(4))
    with pytest.raises(ValueError, match="`h0`") as info:
        unroll(cell=cell, h0=jnp.zeros(3), xs=jnp.ones((5, 4)))  # the cell has 4 units
    message = str(info.value)
    assert "`xs`" in message and "_Plain" in message and "(3,)" in message
    # A shipped cell declares them: the message names the one wrong argument and its shape.
    gru = paratime.cells.GRU(D, 4, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"`h0` must have shape \(4,\)"):
        unroll(cell=gru, h0=jnp.zeros(3))


class _DeclaredCell(paratime.cells.AbstractCell):
    """A cell that declares the shapes it takes (N, D)."""

    def __call__(self, h, x):
        return jnp.tanh(h + jnp.sum(x))

    def expected_shapes(self):
        return (N,), (D,)


def test_shape_mismatch_with_declared_shapes_names_the_wrong_argument():
    cell = _DeclaredCell()
    with pytest.raises(ValueError, match="`h0` must have shape \\(3,\\)"):
        unroll(cell=cell, h0=jnp.zeros(N + 1))
    with pytest.raises(ValueError, match="`xs` must have shape \\(T, 2\\)"):
        unroll(cell=cell, xs=jnp.ones((T, D + 1)))
    assert unroll(cell=cell).states.shape == (T, N)
