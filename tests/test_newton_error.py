"""What a user catches when a solve fails and nothing finishes it: eagerly, under `jax.jit`,
`eqx.filter_jit`, `jax.grad` and from `paratime.train.fit`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
import pytest

import paratime

T, N = 32, 4


def chaotic():
    cell = paratime.cells.Elman(2, N, key=jax.random.key(0), weight_scale=3.0)
    return cell, jnp.zeros(N), 0.05 * jax.random.normal(jax.random.key(1), (T, 2))


def states(cell, h0, xs):
    return paratime.unroll(cell, h0, xs, solver=paratime.DEER(max_iters=20)).states


def test_eagerly_it_is_a_newton_error_and_a_jax_runtime_error():
    cell, h0, xs = chaotic()
    with pytest.raises(paratime.NewtonError) as info:
        states(cell, h0, xs)
    assert isinstance(info.value, jax.errors.JaxRuntimeError)
    assert isinstance(info.value, RuntimeError)
    assert "DEER" in str(info.value)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda f: jax.jit(f),
        lambda f: eqx.filter_jit(f),
        lambda f: jax.jit(jax.grad(lambda c, h, x: jnp.sum(f(c, h, x)))),  # only a gradient
    ],
    ids=["jax.jit", "eqx.filter_jit", "jit-of-grad"],
)
def test_under_jit_it_is_a_jax_runtime_error_with_the_message(wrap):
    cell, h0, xs = chaotic()
    with pytest.raises(jax.errors.JaxRuntimeError) as info:
        jax.block_until_ready(wrap(states)(cell, h0, xs))
    assert not isinstance(info.value, paratime.NewtonError)  # JAX's own type
    last = str(info.value).strip().splitlines()[-1]
    assert "NewtonError: DEER" in last and "Try" in last


def test_paratime_train_raises_the_newton_error_itself():
    cell, h0, xs = chaotic()
    model = paratime.nn.RNN(cell, paratime.DEER(max_iters=20), fallback=None)

    def loss(model, key):
        return jnp.mean(model(xs) ** 2)

    with pytest.raises(paratime.NewtonError, match="DEER"):
        paratime.train.fit(loss, model, optax.sgd(1e-3), steps=2, key=jax.random.key(0))
