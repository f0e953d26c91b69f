"""Every cell carries its protocol: `init_state()` is an h0 that `unroll` accepts, and
`output(state)` is the (N,) vector a layer reads, for one state and for a trajectory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from paratime import cells, dsr, elm
from paratime.cells import AbstractCell
from paratime.elm._cells import uses_feedback

D, N, T = 4, 6, 5


def _shipped():
    k = jax.random.key(0)
    plrnn = dsr.PLRNN(3, key=k)
    return {
        "Elman": (cells.Elman(D, N, key=k), N),
        "GRU": (cells.GRU(D, N, key=k), N),
        "LSTM": (cells.LSTM(D, N, key=k), N),
        "MinGRU": (cells.MinGRU(D, N, key=k), N),
        "LRU": (cells.LRU(D, N, key=k), N),
        "CfC": (cells.CfC(D, N, key=k), N),
        "DiagonalGRU": (cells.DiagonalGRU(D, N, num_heads=2, key=k), N),
        "DiagonalLSTM": (cells.DiagonalLSTM(D, N, num_heads=2, key=k), N),
        "BlockGRU": (cells.BlockGRU(D, N, block_size=3, key=k), N),
        "SLSTM": (cells.SLSTM(D, N, num_heads=2, key=k), N),
        "PLRNN": (plrnn, 3),
        "ShallowPLRNN": (dsr.ShallowPLRNN(3, 5, key=k), 3),
        "ALRNN": (dsr.ALRNN(3, 1, key=k), 3),
        "GTFCell": (dsr.GTFCell(plrnn, jnp.asarray(0.5), jnp.ones(3)), 3),
        **{f"elm-{a}": (elm.make_cell(a, D, N, key=k, lags=2), N) for a in elm.ARCHITECTURES},
    }


CELLS = _shipped()


def test_every_shipped_cell_class_is_covered():
    shipped = {
        name
        for name, obj in vars(cells).items()
        if isinstance(obj, type) and issubclass(obj, AbstractCell) and "Abstract" not in name
    }
    assert shipped <= set(CELLS)


def _inputs(cell, key):
    if uses_feedback(cell):
        return jax.random.normal(key, (T, D)), jax.random.normal(key, (T, D))
    if isinstance(cell, dsr.GTFCell):
        return jax.random.normal(key, (T, 3))
    if isinstance(cell, dsr.PLRNN | dsr.ShallowPLRNN | dsr.ALRNN):
        return jnp.zeros((T, 0))
    return jax.random.normal(key, (T, D))


@pytest.mark.parametrize("name", sorted(CELLS))
def test_init_state_is_an_h0_unroll_accepts_and_output_is_a_vector(name, getkey):
    cell, n_out = CELLS[name]
    h0 = cell.init_state()
    params = [a for a in jax.tree_util.tree_leaves(cell) if isinstance(a, jax.Array)]
    for leaf in jax.tree_util.tree_leaves(h0):
        assert not np.any(np.asarray(leaf))
        want = jnp.complex128 if isinstance(cell, cells.LRU) else params[0].dtype
        assert leaf.dtype == want
    expected = cell.expected_shapes()
    assert expected is not None
    is_shape = lambda s: isinstance(s, tuple) and all(isinstance(i, int) for i in s)
    assert jax.tree_util.tree_map(jnp.shape, h0) == jax.tree_util.tree_map(
        tuple, expected[0], is_leaf=is_shape
    )
    states = paratime.unroll(cell, h0, _inputs(cell, getkey()), solver=paratime.Sequential()).states
    assert cell.output(h0).shape == (n_out,)
    # one state at a time and the whole trajectory at once agree
    outs = cell.output(states)
    assert outs.shape == (T, n_out)
    np.testing.assert_array_equal(outs, jax.vmap(cell.output)(states))


def test_lstm_outputs_h_of_its_h_c_state(getkey):
    cell = cells.LSTM(D, N, key=getkey())
    h, c = jax.random.normal(getkey(), (2, N))
    np.testing.assert_array_equal(cell.output((h, c)), h)


@pytest.mark.parametrize("name, column", [("SLSTM", 2), ("DiagonalLSTM", 1)])
def test_packed_states_output_their_hidden_column(name, column, getkey):
    cell, _ = CELLS[name]
    states = paratime.unroll(cell, cell.init_state(), jax.random.normal(getkey(), (T, D))).states
    np.testing.assert_array_equal(cell.output(states), states[..., column])
    assert np.any(np.asarray(states[..., column]) != np.asarray(states[..., 0]))


def test_rnn_layer_outputs_slstm_hidden_not_its_raw_state(getkey):
    cell = cells.SLSTM(D, N, num_heads=2, key=getkey())
    rnn = paratime.nn.RNN(cell, paratime.Sequential())
    xs = jax.random.normal(getkey(), (T, D))
    assert rnn.output_size == N
    np.testing.assert_array_equal(rnn(xs), rnn.solve(xs).states[..., 2])


def test_init_state_follows_the_parameter_dtype(getkey):
    assert cells.GRU(D, N, key=getkey(), dtype=jnp.float32).init_state().dtype == jnp.float32
    assert cells.LRU(D, N, key=getkey(), dtype=jnp.float32).init_state().dtype == jnp.complex64


class _Undeclared(AbstractCell):
    def __call__(self, h, x):
        return h


def test_a_cell_without_shapes_names_init_state():
    with pytest.raises(ValueError, match="init_state"):
        _Undeclared().init_state()
    with pytest.raises(ValueError, match="initial_state"):
        paratime.nn.RNN(lambda h, x: h)
