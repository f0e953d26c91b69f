"""The language model on a (batch × time) mesh of 4 forced CPU devices equals one device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paratime.lm import LMConfig, load_corpus, loss_and_grad, make_mesh, make_model, train_lm


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(1)
    for i in range(30):
        (root / f"f{i}.txt").write_bytes(rng.integers(97, 123, 300, dtype=np.uint8).tobytes())
    return load_corpus(root)


@pytest.mark.parametrize(("cell", "solver"), [("gru", "deer")])
def test_mesh_loss_and_gradients_equal_one_device(cell, solver, getkey):
    if jax.device_count() < 4:
        pytest.skip("needs 4 devices (tests/conftest.py forces 4 CPU devices)")
    base = LMConfig(cell=cell, solver=solver, dim=8, hidden_size=8, depth=2, dtype="float64")
    sharded = base.replace(batch=4, batch_devices=2, time_devices=2)
    mesh = make_mesh(sharded)
    assert mesh is not None and dict(mesh.shape) == {"batch": 2, "time": 2}
    one, many = make_model(base), make_model(sharded, mesh=mesh)
    windows = jax.random.randint(getkey(), (4, 37), 0, 256)
    placed = jax.device_put(windows, jax.sharding.NamedSharding(mesh, jax.P("batch")))
    loss1, grads1 = jax.jit(loss_and_grad)(one, windows)
    loss4, grads4 = jax.jit(loss_and_grad)(many, placed)
    assert abs(float(loss1 - loss4)) < 1e-10
    leaves1, leaves4 = jax.tree.leaves(grads1), jax.tree.leaves(grads4)
    assert len(leaves1) == len(leaves4)
    assert all(bool(jnp.allclose(a, b, rtol=1e-7, atol=1e-11)) for a, b in zip(leaves1, leaves4))


def test_training_on_the_mesh_equals_one_device(corpus):
    if jax.device_count() < 4:
        pytest.skip("needs 4 devices (tests/conftest.py forces 4 CPU devices)")
    base = LMConfig(
        cell="diagonal_gru",
        solver="quasi-deer",
        dim=8,
        hidden_size=8,
        depth=1,
        context=40,
        batch=4,
        steps=2,
        eval_windows=2,
        dtype="float64",
    )
    _, one = train_lm(base, corpus=corpus)
    _, many = train_lm(base.replace(batch_devices=2, time_devices=2), corpus=corpus)
    for a, b in zip(one, many, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-9
        assert abs(a.get("test_bpb", 0.0) - b.get("test_bpb", 0.0)) < 1e-9
