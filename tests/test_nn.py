"""paratime.nn: the RNN layer, the residual block and the sequence model with warm starts."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from helpers import tree_allclose
from paratime.nn import RNN, Block, SequenceModel, WarmStart


@settings(max_examples=3, deadline=None)
@given(B=st.integers(1, 3), T=st.integers(1, 12), D=st.integers(1, 3), N=st.integers(1, 4))
def test_rnn_shapes_and_batch_first_equals_vmap(B, T, D, N):
    key = jax.random.key(B * 1000 + T * 100 + D * 10 + N)
    rnn = RNN(paratime.cells.GRU(D, N, key=key), paratime.DEER())
    xs = jax.random.normal(jax.random.fold_in(key, 1), (B, T, D))
    out = rnn.batch_first(xs)
    assert out.shape == (B, T, N)
    assert tree_allclose(out, jax.vmap(rnn)(xs))
    h0 = jax.random.normal(jax.random.fold_in(key, 2), (B, N))
    assert tree_allclose(rnn.batch_first(xs, h0), jax.vmap(rnn)(xs, h0))
    assert not tree_allclose(rnn.batch_first(xs, h0), out)


def test_rnn_lstm_outputs_h(getkey):
    cell = paratime.cells.LSTM(2, 5, key=getkey())
    rnn = RNN(cell, paratime.Sequential())
    xs = jax.random.normal(getkey(), (7, 2))
    h, _ = paratime.unroll(cell, rnn.initial_state, xs, solver=paratime.Sequential()).states
    assert rnn.output_size == 5
    assert tree_allclose(rnn(xs), h)


def test_rnn_lru_starts_from_a_complex_zero_state(getkey):
    # The LRU's state size and dtype come from its (complex) eigenvalues.
    cell = paratime.cells.LRU(2, 4, key=getkey())
    rnn = RNN(cell, paratime.Sequential())
    assert rnn.initial_state.shape == (4,)
    assert jnp.iscomplexobj(rnn.initial_state)
    assert rnn(jax.random.normal(getkey(), (7, 2))).shape[0] == 7


def _model(solver, key, **kw):
    options = dict(dim=6, depth=2, output_size=3, vocab_size=11, hidden_size=5)
    return SequenceModel(paratime.cells.GRU, key=key, solver=solver, **(options | kw))


def test_sequence_model_shapes(getkey):
    model = _model(paratime.DEER(), getkey())
    tokens = jax.random.randint(getkey(), (4, 20), 0, 11)
    assert jax.vmap(model)(tokens).shape == (4, 20, 3)
    real = _model(paratime.DEER(), getkey(), vocab_size=None, input_size=2)
    assert jax.vmap(real)(jax.random.normal(getkey(), (4, 20, 2))).shape == (4, 20, 3)


@pytest.mark.parametrize("cell", [paratime.cells.GRU, paratime.cells.LSTM])
def test_deer_equals_sequential_outputs_and_gradients(cell, getkey):
    key = getkey()
    make = functools.partial(
        SequenceModel, cell, dim=5, depth=1, output_size=3, vocab_size=7, key=key
    )
    deer, seq = make(solver=paratime.DEER()), make(solver=paratime.Sequential())
    tokens = jax.random.randint(getkey(), (2, 30), 0, 7)

    def loss(model):
        return jnp.mean(jax.vmap(model)(tokens) ** 2)

    (l1, g1), (l2, g2) = (eqx.filter_value_and_grad(loss)(m) for m in (deer, seq))
    assert tree_allclose(jax.vmap(deer)(tokens), jax.vmap(seq)(tokens), rtol=1e-9, atol=1e-10)
    assert abs(float(l1 - l2)) < 1e-10
    # (The solvers differ, so do the static parts of the trees: compare the leaves.)
    leaves1, leaves2 = jax.tree.leaves(g1), jax.tree.leaves(g2)
    assert len(leaves1) == len(leaves2) > 0
    assert tree_allclose(leaves1, leaves2, rtol=1e-7, atol=1e-12)


def test_step_equals_parallel_call(getkey):
    model = _model(paratime.DEER(), getkey())
    tokens = jax.random.randint(getkey(), (15,), 0, 11)

    def step(states, x):
        y, states = model.step(x, states)
        return states, y

    _, ys = jax.lax.scan(step, model.initial_states(), tokens)
    assert tree_allclose(ys, model(tokens), rtol=1e-9, atol=1e-10)


def test_warm_start_same_result_fewer_iterations(getkey):
    model = _model(paratime.DEER(), getkey(), dim=8, hidden_size=8)
    tokens = jax.random.randint(getkey(), (2, 200), 0, 11)
    _, warm = jax.vmap(model.warm)(tokens, None)
    # A small parameter update, as one optimiser step makes.
    noise = jax.tree.map(
        lambda p: 1e-3 * jax.random.normal(getkey(), p.shape, p.dtype),
        eqx.filter(model, eqx.is_inexact_array),
    )
    moved = eqx.apply_updates(model, noise)
    cold, cold_warm = jax.vmap(moved.warm)(tokens, None)
    hot, hot_warm = jax.vmap(moved.warm)(tokens, warm)
    assert tree_allclose(cold, hot, rtol=1e-8, atol=1e-10)
    cold_steps = sum(int(s.sum()) for s in cold_warm.num_steps)
    hot_steps = sum(int(s.sum()) for s in hot_warm.num_steps)
    assert hot_steps < cold_steps
    assert isinstance(hot_warm, WarmStart)


def test_bad_arguments(getkey):
    cell = paratime.cells.GRU(2, 3, key=getkey())
    with pytest.raises(TypeError, match="solver"):
        RNN(cell, "deer")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="initial_state"):
        RNN(lambda h, x: h)
    with pytest.raises(ValueError, match="xs"):
        RNN(cell).batch_first(jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="dim"):
        Block(cell, 0, key=getkey())
    with pytest.raises(ValueError, match="vocab_size"):
        SequenceModel(paratime.cells.GRU, dim=2, depth=1, output_size=2, key=getkey())
    with pytest.raises(ValueError, match="depth"):
        _model(paratime.DEER(), getkey(), depth=0)
    model = _model(paratime.DEER(), getkey())
    tokens = jnp.zeros((5,), int)
    _, warm = model.warm(tokens)
    with pytest.raises(ValueError, match="warm_start"):
        model.warm(tokens, WarmStart(warm.states[:1], warm.num_steps[:1]))
