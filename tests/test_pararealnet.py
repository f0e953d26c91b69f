"""ParaRealNet: P = 1 reduction, exact correction, vmap = shard, validation, layer-parallel."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from helpers import tree_allclose, tree_max_abs_diff
from paratime.pararealnet import (
    ParaRealNet,
    ResidualNetwork,
    count_parameters,
    make_blocks,
    make_classifiers,
    make_coarse,
)

INTERFACES = ("coarse", "input")


def _sum_squares(model, x):
    return jnp.sum(model(x) ** 2)


# Jitted once per structure: eager scans would compile their bodies op by op, much slower.
_call = eqx.filter_jit(lambda model, x: model(x))
_states = eqx.filter_jit(lambda model, x: model.interface_states(x))
_grad = eqx.filter_jit(eqx.filter_grad(_sum_squares))


def _exact_coarse(net: ParaRealNet) -> ResidualNetwork:
    """A coarse network equal to the fine one: sub-network j as a stacked ResidualNetwork."""
    return ResidualNetwork(net.fine)


def _states_every(blocks, x, every: int):
    """The sequential network's states after every `every` blocks."""
    out, h = [], x
    for layer in range(blocks.inner.weight.shape[0]):
        h = jax.tree_util.tree_map(lambda a: a[layer], blocks)(h)
        if (layer + 1) % every == 0:
            out.append(h)
    return jnp.stack(out)


@pytest.mark.parametrize("interface", INTERFACES)
def test_one_subnetwork_is_the_original_network(getkey, interface):
    blocks = make_blocks(6, 5, 7, key=getkey())
    x = jax.random.normal(getkey(), (3, 5))
    expected = _call(ResidualNetwork(blocks), x)
    assert tree_allclose(
        _call(ParaRealNet(blocks, 1, interface=interface), x), expected, rtol=1e-12
    )
    # With a coarse network too: C(x) + F(x) - C(x) = F(x) up to rounding.
    coarse = make_coarse(1, 5, 3, key=getkey())
    net = ParaRealNet(blocks, 1, coarse, interface=interface)
    assert tree_allclose(_call(net, x), expected, rtol=1e-12, atol=1e-12)
    grads = _grad(net, x)
    expected_grads = _grad(ResidualNetwork(blocks), x)
    assert tree_allclose(grads.sequential(), expected_grads, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("interface", INTERFACES)
def test_exact_coarse_gives_exact_correction(getkey, interface):
    blocks = make_blocks(8, 4, 6, key=getkey())
    x = jax.random.normal(getkey(), (5, 4))
    net = ParaRealNet(blocks, 4, make_coarse(4, 4, 3, key=getkey()), interface=interface)
    exact = ParaRealNet(blocks, 4, _exact_coarse(net), interface=interface)
    expected = _states_every(blocks, x, 2)
    assert tree_allclose(_states(exact, x), expected, rtol=1e-12, atol=1e-12)
    # A different coarse network is not exact past the first interface, which always is.
    approx = _states(net, x)
    assert tree_max_abs_diff(approx[-1], expected[-1]) > 1e-4
    assert tree_allclose(approx[0], expected[0], rtol=1e-12, atol=1e-12)


@settings(max_examples=3, deadline=None)
@given(
    parts=st.integers(1, 4),
    per_part=st.integers(1, 3),
    width=st.integers(1, 6),
    batch=st.integers(1, 3),
    interface=st.sampled_from(INTERFACES),
)
def test_exact_coarse_property(parts, per_part, width, batch, interface):
    kb, kc, kx = jax.random.split(jax.random.key(parts * 100 + per_part * 10 + width), 3)
    blocks = make_blocks(parts * per_part, width, 3, key=kb)
    x = jax.random.normal(kx, (batch, width))
    net = ParaRealNet(blocks, parts, make_coarse(parts, width, 2, key=kc), interface=interface)
    exact = ParaRealNet(blocks, parts, _exact_coarse(net), interface=interface)
    assert tree_allclose(_call(exact, x), _call(ResidualNetwork(blocks), x), rtol=1e-12, atol=1e-12)


def test_vmap_and_shard_agree(getkey):
    assert len(jax.devices()) >= 4
    blocks = make_blocks(8, 4, 6, key=getkey())
    coarse = make_coarse(4, 4, 3, key=getkey())
    x = jax.random.normal(getkey(), (6, 4))
    for interface in INTERFACES:
        vmapped = ParaRealNet(blocks, 4, coarse, interface=interface, parallel="vmap")
        sharded = ParaRealNet(blocks, 4, coarse, interface=interface, parallel="shard")
        assert tree_allclose(_call(sharded, x), _call(vmapped, x), rtol=1e-12, atol=1e-12)
    g_vmap = _grad(vmapped, x)
    g_shard = _grad(sharded, x)
    assert tree_allclose(g_shard.fine, g_vmap.fine, rtol=1e-10, atol=1e-12)
    assert tree_allclose(g_shard.coarse, g_vmap.coarse, rtol=1e-10, atol=1e-12)


def test_shard_needs_enough_devices(getkey):
    blocks = make_blocks(8, 2, 2, key=getkey())
    net = ParaRealNet(blocks, 8, make_coarse(8, 2, 2, key=getkey()), parallel="shard")
    with pytest.raises(ValueError, match="needs 8 devices"):
        net(jnp.ones((1, 2)))


def test_validation(getkey):
    blocks = make_blocks(6, 3, 3, key=getkey())
    coarse = make_coarse(3, 3, 2, key=getkey())
    with pytest.raises(ValueError, match="num_parallel"):
        ParaRealNet(blocks, 4, coarse)
    with pytest.raises(ValueError, match="num_parallel"):
        ParaRealNet(blocks, 0, coarse)
    with pytest.raises(ValueError, match="coarse"):
        ParaRealNet(blocks, 3)
    with pytest.raises(ValueError, match="leading axis"):
        ParaRealNet(blocks, 2, coarse)
    with pytest.raises(ValueError, match="interface"):
        ParaRealNet(blocks, 3, coarse, interface="middle")
    with pytest.raises(ValueError, match="parallel"):
        ParaRealNet(blocks, 3, coarse, parallel="threads")
    with pytest.raises(ValueError, match="depth"):
        make_blocks(0, 3, 3, key=getkey())


def test_blocks_as_a_list(getkey):
    stacked = make_blocks(4, 3, 5, key=getkey())
    listed = [jax.tree_util.tree_map(lambda a, i=i: a[i], stacked) for i in range(4)]
    x = jax.random.normal(getkey(), (2, 3))
    coarse = make_coarse(2, 3, 2, key=getkey())
    net = ParaRealNet(listed, 2, coarse)
    assert tree_allclose(net.fine, ParaRealNet(stacked, 2, coarse).fine)
    assert tree_allclose(_call(net.sequential(), x), _call(ResidualNetwork(stacked), x))


def test_layer_parallel_deer_matches_scan(getkey):
    blocks = make_blocks(8, 4, 6, key=getkey())
    x = jax.random.normal(getkey(), (3, 4))
    scan = ResidualNetwork(blocks)
    for solver in (paratime.DEER(), paratime.Parareal(num_slices=4)):
        parallel = ResidualNetwork(blocks, solver=solver)
        assert tree_allclose(_call(parallel, x), _call(scan, x), rtol=1e-9, atol=1e-10), solver
        grads = _grad(parallel, x)
        expected = _grad(scan, x)
        assert tree_allclose(grads.blocks, expected.blocks, rtol=1e-7, atol=1e-9), solver


def test_baseline_has_matching_parameter_count(getkey):
    config = dict(in_features=10, num_classes=3, depth=8, width=6, hidden=6, coarse_hidden=3)
    for parts in (1, 2, 4, 8):
        model, base = make_classifiers(num_parallel=parts, key=getkey(), **config)
        block = 2 * 6 * 1 * 8  # parameters added by one more hidden unit in every block
        assert abs(count_parameters(model) - count_parameters(base)) <= block // 2 + 1
        assert isinstance(model.body, ParaRealNet) and isinstance(base.body, ResidualNetwork)
        assert base.body.depth == 8
