"""Every kernel, and every solver that can use them, lowers for CUDA on this CPU-only
machine through Pallas' Triton backend (forward, gradient, `jax.vmap`), with nothing that
needs the host."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime.recurrences import Chunked, Pallas
from paratime.structures import BlockDiagonal, Diagonal

TRITON = "__gpu$xla.gpu.triton"
T, D, N = 300, 4, 8


def _lower(f, *args):
    with paratime.for_platform("cuda"):
        text = jax.jit(f).trace(*args).lower(lowering_platforms=("cuda",)).as_text()
    assert "callback" not in text
    return text


KERNELS = {
    "diagonal": (Diagonal(), (T, N), jnp.float32),
    "complex": (Diagonal(), (T, N), jnp.complex64),
    "block2": (BlockDiagonal(2), (T, N // 2, 2, 2), jnp.float32),
    "block4-bfloat16": (BlockDiagonal(4), (T, N // 4, 4, 4), jnp.bfloat16),
}


@pytest.mark.parametrize("kind", KERNELS)
@pytest.mark.parametrize(
    "chunk, reverse", [(T, False), (64, True)], ids=["one-pass", "chunked-reverse"]
)
def test_kernels_lower_for_cuda(kind, chunk, reverse):
    structure, a_shape, dtype = KERNELS[kind]
    a, b, h0 = jnp.ones(a_shape, dtype), jnp.ones((T, N), dtype), jnp.zeros(N, dtype)
    rec = Pallas(chunk=chunk)

    def loss(a, b):
        h = paratime.linear_recurrence(
            a, b, h0, structure=structure, recurrence=rec, reverse=reverse
        )
        return jnp.sum(jnp.abs(h) ** 2).astype(jnp.float32)

    assert _lower(loss, a, b).count(TRITON) == (1 if chunk == T else 2)  # summary + scan
    if dtype != jnp.complex64:  # (complex gradients: `jax.grad` wants a holomorphic flag)
        assert TRITON in _lower(jax.grad(loss, argnums=(0, 1)), a, b)
    assert TRITON in _lower(jax.vmap(loss), jnp.stack([a] * 3), jnp.stack([b] * 3))


SOLVERS = {
    "DEER": paratime.DEER(recurrence=Pallas()),
    "QuasiDEER": paratime.QuasiDEER(recurrence=Pallas()),
    "DEER-chunked": paratime.DEER(recurrence=Chunked(100, inner=Pallas())),
    "QuasiDEER-block": paratime.QuasiDEER(structure=BlockDiagonal(2), recurrence=Pallas()),
}
CELLS = {
    "DiagonalGRU": (paratime.cells.DiagonalGRU, (N,)),
    "DiagonalLSTM": (paratime.cells.DiagonalLSTM, (N, 2)),
}


@pytest.mark.parametrize("cell_name", CELLS)
@pytest.mark.parametrize("solver_name", SOLVERS)
def test_solvers_lower_for_cuda(solver_name, cell_name):
    cls, state = CELLS[cell_name]
    cell = cls(D, N, key=jax.random.key(0), dtype=jnp.float32)
    h0 = jnp.zeros(state, jnp.float32)
    xs = jnp.ones((T, D), jnp.float32)
    solver = SOLVERS[solver_name]

    def loss(cell, xs):
        return jnp.sum(paratime.unroll(cell, h0, xs, solver=solver, throw=False).states ** 2)

    def grad(cell, xs):
        return eqx.filter_grad(loss)(cell, xs)

    xb = jnp.stack([xs] * 3)
    for f, x in ((loss, xs), (grad, xs), (jax.vmap(grad, in_axes=(None, 0)), xb)):
        assert TRITON in _lower(f, cell, x), f
