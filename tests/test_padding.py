"""Padded batches (`length=`/`lengths=`) and packed sequences (`resets=`) in `paratime.nn`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from helpers import tree_max_abs_diff

T, D, N = 12, 2, 4
LENGTHS = np.array([12, 5, 0, 1])


def _rnn(cell="gru", solver=None):
    key = jax.random.key(0)
    cell = {"gru": paratime.cells.GRU, "lstm": paratime.cells.LSTM}[cell](D, N, key=key)
    return paratime.nn.RNN(cell, paratime.DEER() if solver is None else solver)


def _inputs():
    return jax.random.normal(jax.random.key(1), (len(LENGTHS), T, D))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padded_outputs_are_zero_and_the_final_state_is_at_the_length(cell):
    rnn, xs = _rnn(cell), _inputs()
    padded = xs.at[1, 5:].set(jnp.nan)  # garbage in the padding must not matter
    outputs, final = jax.vmap(lambda x, n: rnn.apply(x, length=n))(padded, jnp.asarray(LENGTHS))
    for i, n in enumerate(LENGTHS):
        assert not jnp.any(outputs[i, n:])
        want = rnn.initial_state
        if n:
            alone = rnn.solve(xs[i, :n], solver=paratime.Sequential()).states
            assert tree_max_abs_diff(outputs[i, :n], rnn.outputs(alone)) < 1e-9
            want = jax.tree_util.tree_map(lambda s: s[-1], alone)
        assert tree_max_abs_diff(jax.tree_util.tree_map(lambda s: s[i], final), want) < 1e-9


def test_padding_carries_no_gradient():
    rnn, xs = _rnn(), _inputs()
    lengths = jnp.asarray(LENGTHS)

    def loss(xs):
        outputs = rnn.batch_first(xs, lengths=lengths)
        return jnp.sum(jnp.sin(outputs))

    grad = jax.grad(loss)(xs)
    for i, n in enumerate(LENGTHS):
        assert not jnp.any(grad[i, n:])
        if n:
            assert jnp.all(jnp.any(grad[i, :n] != 0, axis=-1))
    # The gradients of the real steps are those of each sequence alone.
    alone = jax.grad(lambda x: jnp.sum(jnp.sin(rnn(x))))(xs[1, :5])
    assert tree_max_abs_diff(grad[1, :5], alone) < 1e-9


def test_parameter_gradients_ignore_the_padding():
    rnn, xs = _rnn(), _inputs()
    garbage = xs.at[1, 5:].set(100.0)

    def loss(rnn, xs):
        return jnp.sum(rnn.batch_first(xs, lengths=jnp.asarray(LENGTHS)) ** 2)

    assert (
        tree_max_abs_diff(eqx.filter_grad(loss)(rnn, xs), eqx.filter_grad(loss)(rnn, garbage))
        < 1e-9
    )


def test_sequence_model_with_lengths_and_resets():
    model = paratime.nn.SequenceModel(
        paratime.cells.GRU,
        dim=8,
        depth=2,
        output_size=5,
        vocab_size=11,
        key=jax.random.key(2),
        solver=paratime.DEER(),
    )
    tokens = jax.random.randint(jax.random.key(3), (T,), 0, 11)
    # Padding: the real steps are those of the short sequence alone; the rest is zero.
    out = model(tokens, length=7)
    assert tree_max_abs_diff(out[:7], model(tokens[:7])) < 1e-9
    assert not jnp.any(out[7:])
    # Packing: two documents in one context give what each gives alone.
    resets = jnp.zeros(T, bool).at[7].set(True)
    packed = model(tokens, resets=resets)
    assert tree_max_abs_diff(packed[:7], model(tokens[:7])) < 1e-9
    assert tree_max_abs_diff(packed[7:], model(tokens[7:])) < 1e-9
    assert tree_max_abs_diff(packed[7:], model(tokens)[7:]) > 1e-6
    # Gradients of a padded batch do not see the padding.
    lengths = jnp.array([T, 7])
    batch = jnp.stack([tokens, tokens.at[7:].set(0)])

    def loss(model, batch):
        out = jax.vmap(lambda t, n: model(t, length=n))(batch, lengths)
        return jnp.sum(out**2)

    g1 = eqx.filter_grad(loss)(model, batch)
    g2 = eqx.filter_grad(loss)(model, batch.at[1, 7:].set(3))
    assert tree_max_abs_diff(g1, g2) < 1e-9


def test_bad_lengths_are_named():
    rnn, xs = _rnn(), _inputs()
    with pytest.raises(ValueError, match="`length` must be in 0..T"):
        rnn(xs[0], length=T + 1)
    with pytest.raises(TypeError, match="`length` must be an integer"):
        rnn(xs[0], length=2.0)
    with pytest.raises(ValueError, match="`lengths` must have shape"):
        rnn.batch_first(xs, lengths=jnp.array([1, 2]))
    with pytest.raises(TypeError, match="`lengths` must be an integer"):
        rnn.batch_first(xs, lengths=jnp.ones(4))
