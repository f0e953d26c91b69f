"""`Auto` sees the batch size of a `jax.vmap` around `unroll`, and chooses by it."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime._batching import vmap_batch_size
from paratime._solver._auto import ImplicitSequential


def test_batch_size_of_nested_and_partial_vmaps():
    x = jnp.ones((2, 3, 5))
    y = jnp.ones(5)
    seen = []

    def record(*args):
        seen.append(vmap_batch_size(args))
        return sum(jnp.sum(a) for a in args)

    record(x[0, 0])
    jax.vmap(record)(x[0])
    jax.jit(jax.vmap(jax.vmap(record)))(x)
    jax.vmap(record, in_axes=(0, None))(x[0], y)  # one argument batched
    jax.vmap(jax.vmap(record, in_axes=(0, None)), in_axes=(None, 0))(x[0], jnp.ones((2, 5)))
    jax.grad(lambda x: jnp.sum(jax.vmap(record)(x)))(x[0])  # through reverse mode
    jax.vmap(jax.grad(record))(x[0])
    record(1.0)  # no arrays at all
    assert seen == [1, 3, 6, 3, 6, 3, 3, 1]


def test_vmap_outside_jit_is_not_seen():
    """`vmap(jit(f))` batches an already traced f: documented as invisible (size 1)."""
    seen = []

    @jax.jit
    def f(x):
        seen.append(vmap_batch_size(x))
        return x

    jax.vmap(f)(jnp.ones((4, 2)))
    assert seen == [1]


@pytest.mark.parametrize("batch", [1, 2, 16])
def test_unroll_passes_the_batch_to_auto(monkeypatch, batch):
    chosen = []
    select = paratime.Auto.select

    def spy(self, cell, T, N, backend=None, batch=1):
        solver = select(self, cell, T, N, backend, batch)
        chosen.append((batch, solver))
        return solver

    monkeypatch.setattr(paratime.Auto, "select", spy)
    cell = paratime.cells.GRU(2, 16, key=jax.random.key(0))
    xs = jnp.ones((batch, 50, 2))

    def states(x):
        return paratime.unroll(cell, jnp.zeros(16), x).states

    eqx.filter_jit(jax.vmap(states))(xs) if batch > 1 else states(xs[0])
    # batch·N² ≤ 512 Jacobian numbers per step: the implicit adjoint; beyond: BPTT.
    assert [b for b, _ in chosen] == [batch]
    if jax.default_backend() == "cpu":
        want = ImplicitSequential() if batch * 16**2 <= 512 else paratime.Sequential()
        assert chosen[0][1] == want


def test_auto_choice_by_batch_on_cpu():
    gru = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    select = paratime.Auto().select
    assert select(gru, 1000, 16, backend="cpu") == ImplicitSequential()
    assert select(gru, 1000, 16, backend="cpu", batch=2) == ImplicitSequential()
    assert select(gru, 1000, 16, backend="cpu", batch=16) == paratime.Sequential()
    assert select(gru, 1000, 4, backend="cpu", batch=16) == ImplicitSequential()
    assert select(gru, 10**6, 4, backend="cpu", batch=32) == paratime.Sequential()  # > 1 GiB
    # The GPU choice does not depend on the batch.
    assert select(gru, 10**5, 16, backend="gpu", batch=16) == paratime.DEER()
