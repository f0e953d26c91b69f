"""Jacobian structures (`paratime.structures`): their algebra, `linear_recurrence` with a
structure, and cells that declare a structured Jacobian."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from helpers import tree_allclose
from paratime.cells import AbstractCell
from paratime.structures import AbstractStructure, BlockDiagonal, Dense, Diagonal

STRUCTURES = [Diagonal(), BlockDiagonal(1), BlockDiagonal(2), BlockDiagonal(3), Dense()]


def _random(seed, shape):
    return jax.random.normal(jax.random.key(seed), shape)


@settings(max_examples=10, deadline=None)
@given(structure=st.sampled_from(STRUCTURES), blocks=st.integers(1, 3), seed=st.integers(0, 999))
def test_structure_algebra_matches_dense(structure, blocks, seed):
    k = structure.k if isinstance(structure, BlockDiagonal) else 2
    N = blocks * k
    dense = _random(seed, (4, N, N))
    h = _random(seed + 1, (4, N))
    a = structure.from_dense(dense)
    assert a.shape == (4,) + structure.shape(N)
    assert structure.numbers(N) == int(np.prod(structure.shape(N)))
    assert structure.bytes(N, jnp.float32) == 4 * structure.numbers(N)
    assert structure.size(a) == N
    d = structure.to_dense(a)
    # The projection keeps exactly the entries inside the structure.
    mask = structure.to_dense(structure.from_dense(jnp.ones((N, N))))
    assert tree_allclose(d, dense * mask)
    assert tree_allclose(structure.apply(a, h), jnp.einsum("tij,tj->ti", d, h))
    assert tree_allclose(structure.transpose_apply(a, h), jnp.einsum("tji,tj->ti", d, h))
    assert tree_allclose(structure.to_dense(structure.transpose(a)), jnp.swapaxes(d, -1, -2))
    assert tree_allclose(structure.to_dense(structure.compose(a[1], a[0])), d[1] @ d[0])
    assert tree_allclose(structure.to_dense(structure.identity(N, a.dtype)), jnp.eye(N))
    b1, b2 = h[0], h[1]
    a12, b12 = structure.combine((a[0], b1), (a[1], b2))
    assert tree_allclose(structure.apply(a12, h[2]) + b12, d[1] @ (d[0] @ h[2] + b1) + b2)


@pytest.mark.parametrize("source", [Dense(), BlockDiagonal(4), BlockDiagonal(2), Diagonal()])
@pytest.mark.parametrize("target", [Dense(), BlockDiagonal(4), BlockDiagonal(2), Diagonal()])
def test_project_equals_projection_of_dense(source, target):
    full = _random(0, (3, 8, 8))
    jac = source.from_dense(full)
    expected = target.from_dense(source.to_dense(jac))
    assert tree_allclose(target.project(jac, source), expected)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_autodiff_jacobian_exact_for_its_structure(structure):
    k = structure.k if isinstance(structure, BlockDiagonal) else 2
    N = 3 * k
    A = structure.to_dense(structure.from_dense(_random(0, (N, N))))
    f = lambda y: jnp.tanh(A @ y)  # noqa: E731
    h = _random(1, (N,))
    value, jac = structure.jacobian(f, h)
    assert tree_allclose(value, f(h))
    assert tree_allclose(structure.to_dense(jac), jax.jacfwd(f)(h))


def test_block_size_validated():
    with pytest.raises(ValueError, match="`k`"):
        BlockDiagonal(0)
    with pytest.raises(ValueError, match="`k`"):
        BlockDiagonal(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiple of k"):
        BlockDiagonal(3).check(4)


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("reverse", [False, True])
def test_linear_recurrence_takes_a_structure(structure, reverse):
    k = structure.k if isinstance(structure, BlockDiagonal) else 2
    N, T = 2 * k, 7
    a = 0.5 * structure.from_dense(_random(0, (T, N, N)))
    b, h0 = _random(1, (T, N)), _random(2, (N,))
    got = paratime.linear_recurrence(a, b, h0, structure=structure, reverse=reverse)
    dense = paratime.linear_recurrence(structure.to_dense(a), b, h0, reverse=reverse)
    assert tree_allclose(got, dense)
    inferred = paratime.linear_recurrence(a, b, h0, reverse=reverse)
    assert tree_allclose(got, inferred)


def test_linear_recurrence_rejects_a_mismatched_structure():
    a, b, h0 = jnp.ones((5, 4)), jnp.ones((5, 4)), jnp.zeros(4)
    with pytest.raises(ValueError, match="`a` must have shape"):
        paratime.linear_recurrence(a, b, h0, structure=Dense())
    with pytest.raises(TypeError, match="`structure`"):
        paratime.linear_recurrence(a, b, h0, structure="diagonal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiple of k"):
        paratime.linear_recurrence(jnp.ones((5, 1, 3, 3)), b, h0, structure=BlockDiagonal(3))


class PairCell(AbstractCell):
    """A cell whose state is N/2 independent pairs: its exact Jacobian is block-diagonal 2×2.

    `structure` is what it declares (the same cell declares `Dense()` for comparison)."""

    w: jax.Array
    u: jax.Array
    structure: AbstractStructure = eqx.field(static=True)

    @property
    def jacobian_structure(self):
        return self.structure

    def __call__(self, h, x):
        pairs = jnp.einsum("kij,kj->ki", self.w, h.reshape(-1, 2)).reshape(-1)
        return jnp.tanh(pairs + self.u @ x)


def _pair_cell(N, structure, D=3):
    k1, k2 = jax.random.split(jax.random.key(0))
    return PairCell(0.8 * _random(1, (N // 2, 2, 2)), jax.random.normal(k2, (N, D)), structure)


def test_block_cell_returns_its_layout():
    cell = _pair_cell(6, BlockDiagonal(2))
    h, x = _random(3, (6,)), _random(4, (3,))
    value, jac = cell.value_and_jacobian(h, x)
    assert jac.shape == (3, 2, 2)
    dense = jax.jacfwd(lambda y: cell(y, x))(h)
    assert tree_allclose(BlockDiagonal(2).to_dense(jac), dense)
    assert tree_allclose(cell.value_and_jacobian_diagonal(h, x)[1], jnp.diagonal(dense))


def test_deer_on_block_cell_converges_like_dense_deer_and_gives_same_gradients():
    N, T = 8, 300
    xs, h0 = _random(5, (T, 3)), _random(6, (N,))
    block, dense = _pair_cell(N, BlockDiagonal(2)), _pair_cell(N, Dense())
    ref = paratime.unroll(dense, h0, xs, solver=paratime.Sequential()).states
    sol_b = paratime.unroll(block, h0, xs, solver=paratime.DEER())
    sol_d = paratime.unroll(dense, h0, xs, solver=paratime.DEER())
    assert int(sol_b.stats["num_steps"]) == int(sol_d.stats["num_steps"])
    assert tree_allclose(sol_b.states, ref, atol=1e-10)
    # The same projection as QuasiDEER(structure=BlockDiagonal(2)) of the dense cell: exact
    # here, so it too converges in as many iterations.
    sol_q = paratime.unroll(dense, h0, xs, solver=paratime.QuasiDEER(structure=BlockDiagonal(2)))
    assert int(sol_q.stats["num_steps"]) == int(sol_d.stats["num_steps"])

    def loss(cell, solver):
        return jnp.sum(paratime.unroll(cell, h0, xs, solver=solver).states ** 2)

    g_ref = jax.grad(loss)(dense, paratime.Sequential())
    for cell, solver in [(block, paratime.DEER()), (block, paratime.QuasiDEER())]:
        g = jax.grad(loss)(cell, solver)
        assert tree_allclose((g.w, g.u), (g_ref.w, g_ref.u), rtol=1e-7, atol=1e-9)


def _slope_numbers_per_step_and_state(cell, N, lengths=(1024, 4096)):
    """Compiled working memory of a DEER forward pass: numbers per T·N as T grows."""

    def f(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=paratime.DEER()).states

    mem = []
    for T in lengths:
        args = (cell, jnp.zeros(N), jnp.ones((T, 3)))
        mem.append(jax.jit(f).lower(*args).compile().memory_analysis().temp_size_in_bytes)
    return (mem[1] - mem[0]) / ((lengths[1] - lengths[0]) * N * 8)


def test_deer_memory_on_block_cell_grows_as_T_N_k():
    N = 32
    block = _slope_numbers_per_step_and_state(_pair_cell(N, BlockDiagonal(2)), N)
    dense = _slope_numbers_per_step_and_state(_pair_cell(N, Dense()), N)
    # Block: J (2 numbers per T·N) plus a few T·N vectors (b, states, the residual test).
    assert block <= 6 * 2, block
    # Dense: J alone is N numbers per T·N.
    assert dense >= N, dense
