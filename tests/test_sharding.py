"""Time axis sharded over the 4 forced CPU devices: results equal the single-device ones."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from helpers import linear_recurrences, tree_allclose
from paratime.recurrences import Associative, Scan, Sharded

solve = jax.jit(paratime.linear_recurrence, static_argnames=("reverse",))


def sharded_recurrence(a, b, h0, *, mesh, reverse=False, **options):
    return paratime.linear_recurrence(
        a, b, h0, reverse=reverse, recurrence=Sharded(mesh, "time", **options)
    )


@pytest.fixture(scope="module")
def mesh():
    assert jax.device_count() >= 4, "tests/conftest.py forces 4 CPU devices"
    return jax.make_mesh((4,), ("time",), devices=jax.devices()[:4])


@st.composite
def problems(draw):
    """A random (a, b, h0) with T divisible by 4, of any structure, real or complex."""
    lengths = st.integers(1, 3).map(lambda k: 4 * k)
    a, b, h0 = (jnp.asarray(x) for x in draw(linear_recurrences(lengths, st.integers(1, 2))))
    options = dict(
        reverse=draw(st.booleans()),
        exchange=draw(st.sampled_from(["auto", "all_gather", "ppermute"])),
        inner=draw(st.sampled_from([None, Associative(), Scan()])),
    )
    return a, b, h0, options


@settings(max_examples=12, deadline=None)
@given(problems())
def test_sharded_recurrence_equals_single_device(mesh, problem):
    a, b, h0, options = problem
    got = sharded_recurrence(a, b, h0, mesh=mesh, **options)
    want = solve(a, b, h0, reverse=options["reverse"])
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12)
    # Each device holds its own quarter of the time axis.
    assert got.sharding.spec[0] == "time"
    assert len(got.sharding.device_set) == 4


def test_sharded_recurrence_jit_grad_and_two_axis_mesh(getkey):
    # A (batch, time) mesh: time is split over 2 devices, the rest replicated.
    mesh = jax.make_mesh((2, 2), ("batch", "time"), devices=jax.devices()[:4])
    a = 0.9 * jax.random.uniform(getkey(), (16, 3))
    b = jax.random.normal(getkey(), (16, 3))
    h0 = jax.random.normal(getkey(), (3,))

    def loss(solve, a, b, h0):
        return jnp.sum(jnp.cos(solve(a, b, h0)))

    def sharded(a, b, h0):
        return sharded_recurrence(a, b, h0, mesh=mesh, exchange="ppermute")

    got = jax.jit(jax.grad(loss, argnums=(1, 2, 3)), static_argnums=0)(sharded, a, b, h0)
    want = jax.grad(loss, argnums=(1, 2, 3))(paratime.linear_recurrence, a, b, h0)
    assert tree_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_sharded_recurrence_bad_arguments(mesh):
    a, b = jnp.ones((8, 2)), jnp.ones((8, 2))
    with pytest.raises(ValueError, match="axis_name"):
        Sharded(mesh, "batch")
    with pytest.raises(ValueError, match="exchange"):
        Sharded(mesh, exchange="broadcast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inner"):
        Sharded(mesh, inner=paratime.recurrences.Chunked(2))
    with pytest.raises(ValueError, match="h0"):
        sharded_recurrence(a, b, jnp.zeros(3), mesh=mesh)
    with pytest.raises(ValueError, match="mesh"):
        Sharded(jax.devices())  # type: ignore[arg-type]


@pytest.mark.parametrize("single", [paratime.DEER, paratime.QuasiDEER])
def test_sharded_newton_equals_single_device(single, mesh, getkey):
    cell = paratime.cells.GRU(2, 5, key=getkey())
    xs = jax.random.normal(getkey(), (30, 2))  # 30 is not a multiple of 4: padded inside
    h0 = jax.random.normal(getkey(), (5,))
    want = paratime.unroll(cell, h0, xs, solver=single())
    sharded = single(recurrence=Sharded(mesh, exchange="ppermute"))
    got = paratime.unroll(cell, h0, xs, solver=sharded)
    assert got.result == paratime.RESULTS.successful
    assert abs(int(got.stats["num_steps"]) - int(want.stats["num_steps"])) <= 1
    assert tree_allclose(got.states, want.states, rtol=1e-10, atol=1e-10)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    assert tree_allclose(got.states, ref, rtol=1e-10, atol=1e-10)


def test_sharded_quasideer_gradients_vmap_and_pytree_state(mesh, getkey):
    cell = paratime.cells.LSTM(2, 3, key=getkey())
    xs = jax.random.normal(getkey(), (2, 16, 2))
    h0 = (jnp.zeros(3), jnp.zeros(3))

    def loss(cell, xs, solver):
        def one(x):
            h, c = paratime.unroll(cell, h0, x, solver=solver).states
            return jnp.sum(h**2) + jnp.sum(jnp.sin(c))

        return jnp.sum(jax.vmap(one)(xs))

    solver = paratime.QuasiDEER(recurrence=Sharded(mesh))
    got = jax.grad(loss, argnums=(0, 1))(cell, xs, solver)
    want = jax.grad(loss, argnums=(0, 1))(cell, xs, paratime.Sequential())
    assert tree_allclose(got, want, rtol=1e-8, atol=1e-9)


def test_parareal_slices_over_devices(mesh, getkey):
    cell = paratime.cells.GRU(2, 4, key=getkey())
    xs = jax.random.normal(getkey(), (40, 2))
    h0 = jnp.zeros(4)
    want = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    got = paratime.unroll(cell, h0, xs, solver=paratime.Parareal(8, recurrence=Sharded(mesh)))
    assert got.result == paratime.RESULTS.successful
    assert tree_allclose(got.states, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("reverse", [False, True])
def test_sharded_recurrence_pads_any_length(reverse, mesh, getkey):
    # As the adjoint of a sharded Newton solve runs its reverse scan.
    a = 0.5 * jax.random.normal(getkey(), (13, 3, 3))
    b = jax.random.normal(getkey(), (13, 3))
    h0 = jax.random.normal(getkey(), (3,))
    got = paratime.linear_recurrence(a, b, h0, reverse=reverse, recurrence=Sharded(mesh))
    want = paratime.linear_recurrence(a, b, h0, reverse=reverse)
    assert tree_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_unroll_inside_shard_map_matches_vmap_and_raises_on_failure(getkey):
    """A whole `unroll` per device (e.g. one sequence per device) works under `shard_map`:
    a non-varying h0 is fine, and a failing Newton solve still raises."""
    from jax.sharding import PartitionSpec as P

    mesh = jax.make_mesh((4,), ("batch",), axis_types=(jax.sharding.AxisType.Auto,))
    cell = paratime.cells.GRU(2, 4, key=getkey())
    xs = jax.random.normal(getkey(), (4, 20, 2))

    def per_device(cell):
        def run(x):
            return paratime.unroll(cell, jnp.zeros(4), x[0], solver=paratime.DEER()).states[None]

        return jax.shard_map(run, mesh=mesh, in_specs=P("batch"), out_specs=P("batch"))

    expected = jax.vmap(lambda x: paratime.unroll(cell, jnp.zeros(4), x).states)(xs)
    assert tree_allclose(per_device(cell)(xs), expected, rtol=1e-10, atol=1e-12)

    chaotic = paratime.cells.Elman(2, 4, key=getkey(), weight_scale=3.0)
    long_xs = jax.random.normal(getkey(), (4, 300, 2))
    with pytest.raises(Exception, match="DEER"):
        jax.block_until_ready(per_device(chaotic)(long_xs))


def test_sharded_recurrence_is_a_field_of_the_plain_solvers(mesh, getkey):
    """`linear_recurrence(recurrence=Sharded(...))` takes any T and is differentiable."""
    sharded = Sharded(mesh, "time", exchange="ppermute")
    a = 0.5 * jax.random.normal(getkey(), (13, 3))
    b = jax.random.normal(getkey(), (13, 3))
    h0 = jax.random.normal(getkey(), (3,))

    def loss(b, recurrence):
        return jnp.sum(paratime.linear_recurrence(a, b, h0, recurrence=recurrence) ** 2)

    assert tree_allclose(loss(b, sharded), loss(b, None), rtol=1e-12)
    assert tree_allclose(jax.grad(loss)(b, sharded), jax.grad(loss)(b, None), rtol=1e-10)
