"""A wrong `h0` or `xs` shape for a shipped cell names the argument and the shape it expects."""

import re

import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime import cells, dsr

D, N, T = 4, 4, 5
KEY = jax.random.key(0)

CELLS = {
    "Elman": lambda: cells.Elman(D, N, key=KEY),
    "GRU": lambda: cells.GRU(D, N, key=KEY),
    "LSTM": lambda: cells.LSTM(D, N, key=KEY),
    "MinGRU": lambda: cells.MinGRU(D, N, key=KEY),
    "LRU": lambda: cells.LRU(D, N, key=KEY),
    "DiagonalGRU": lambda: cells.DiagonalGRU(D, N, key=KEY),
    "DiagonalLSTM": lambda: cells.DiagonalLSTM(D, N, key=KEY),
    "BlockGRU": lambda: cells.BlockGRU(D, N, block_size=2, key=KEY),
    "CfC": lambda: cells.CfC(D, N, key=KEY),
    "SLSTM": lambda: cells.SLSTM(D, N, key=KEY),
    "PLRNN": lambda: dsr.PLRNN(N, key=KEY),
    "ShallowPLRNN": lambda: dsr.ShallowPLRNN(N, 6, key=KEY),
    "ALRNN": lambda: dsr.ALRNN(N, 2, key=KEY),
    "GTFCell": lambda: dsr.GTFCell(dsr.PLRNN(N, key=KEY), jnp.asarray(0.5), jnp.ones(N)),
}


def _is_shape(s):
    return isinstance(s, tuple) and all(isinstance(i, int) for i in s)


def _h0(state_shape):
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s), state_shape, is_leaf=_is_shape)


def _grow(h0):
    return jax.tree_util.tree_map(
        lambda x: jnp.zeros(x.shape[:-1] + (x.shape[-1] + 1,), x.dtype), h0
    )


@pytest.mark.parametrize("name", sorted(CELLS))
def test_wrong_shapes_name_the_argument(name):
    cell = CELLS[name]()
    expected = cell.expected_shapes()
    assert expected is not None
    state, x_shape = expected
    h0 = _h0(state)
    if isinstance(cell, cells.LRU):
        h0 = h0.astype(jnp.complex128)
    x_step = x_shape if x_shape is not None else (D,)
    xs = jnp.ones((T, *x_step)) * 0.1

    sol = paratime.unroll(cell, h0, xs)  # the right shapes work
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda x: x.shape[0] == T, sol.states))

    want = str(jax.tree_util.tree_map(tuple, state, is_leaf=_is_shape))
    with pytest.raises(ValueError, match=r"`h0`.*" + re.escape(want)):
        paratime.unroll(cell, _grow(h0), xs)

    if x_shape is not None:
        bad = jnp.ones((T, *x_shape[:-1], x_shape[-1] + 1))
        with pytest.raises(ValueError, match=r"`xs`.*" + re.escape(str(tuple(x_shape)))):
            paratime.unroll(cell, h0, bad)
