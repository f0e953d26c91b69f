"""Multiple shooting with trainable state embeddings: continuity, freezing, information
travel, and the sharded (ppermute) version."""

import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import paratime
from helpers import tree_allclose
from paratime import decomp

# the tasks of the decomposition evidence live with its benchmark
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.decomp.tasks import recall_task  # noqa: E402
from benchmarks.decomp.travel import information_travel  # noqa: E402

B, T, N, K = 2, 24, 4, 4  # segments of 6 steps


@pytest.fixture(scope="module")
def task():
    xs, ys = recall_task(jax.random.key(0), B, T, noise=0.3)
    model = decomp.RNN.gru(2, N, 1, key=jax.random.key(1))
    return model, xs, ys


def _problem(task, *, mesh=None, optimizer=None, **kwargs):
    model, xs, ys = task
    cfg = decomp.Shooting(kwargs.pop("num_windows", K), **{"mu": 10.0, **kwargs})
    optimizer = optax.adam(2e-2) if optimizer is None else optimizer
    return decomp.ShootingProblem(model, xs, ys, cfg, optimizer, mesh=mesh)


def test_bad_config():
    with pytest.raises(ValueError, match="freeze_every"):
        decomp.Shooting(K, freeze_every=0)
    with pytest.raises(ValueError, match="mu"):
        decomp.Shooting(K, mu=-1.0)


@pytest.mark.parametrize("num_windows", [K, T])
def test_true_trajectory_is_continuous(task, num_windows):
    """Embeddings set to the true states: no continuity gap, and the segment losses add up
    to the full-sequence loss (also with an embedding at every transition)."""
    model, xs, ys = task
    problem = _problem(task, num_windows=num_windows)
    state = problem.init(model)
    full = jax.vmap(lambda x: paratime.unroll(model.cell, model.h0, x).states)(xs)
    stride = T // num_windows
    idx = np.maximum(np.arange(num_windows) * stride - 1, 0)
    starts = jnp.swapaxes(full[:, idx], 0, 1)
    total, parts = eqx.filter_jit(problem.objective)(state.params, starts)
    assert float(jnp.max(parts["gap"])) < 1e-24
    assert jnp.allclose(total, decomp.sequence_loss(model, xs, ys), rtol=1e-12)


def test_continuity_gap_closes(task):
    model, _, _ = task
    out = {}
    for mu in (0.1, 10.0):
        _, out[mu] = decomp.fit_problem(_problem(task, mu=mu), model, steps=60, eval_every=60)
    hist = out[10.0]
    assert hist[-1]["gap"] < 0.3 * hist[0]["gap"]
    assert hist[-1]["gap"] < 0.5 * out[0.1][-1]["gap"]
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]


def test_freezing_accumulates_embedding_gradients(task):
    """With `freeze_every=3` the embeddings stay put for two steps while θ moves, then take
    one Adam step on the mean of the three gradients they received meanwhile."""
    model, _, _ = task
    problem = _problem(task, freeze_every=3)
    state = problem.init(model)
    grad = jax.jit(jax.grad(lambda p, s: problem.objective(p, s)[0], argnums=1))
    grads = []
    for i in range(3):
        grads.append(grad(state.params, state.starts))
        old = state
        state, _ = problem.step(state)
        params_moved = not tree_allclose(old.params, state.params, rtol=0, atol=0)
        assert params_moved
        if i < 2:
            assert tree_allclose(old.starts, state.starts, rtol=0, atol=0)
    starts0 = problem.init(model).starts
    inner = optax.adam(2e-2)
    updates, _ = inner.update(sum(grads) / 3, inner.init(starts0), starts0)
    assert tree_allclose(state.starts, optax.apply_updates(starts0, updates), rtol=1e-10)


@pytest.mark.parametrize("freeze", [1, 2])
def test_information_travels_one_segment_per_update(task, freeze):
    """With θ frozen, the embedding of segment k can depend on the input at t = 0 only after
    k embedding updates: the measured sensitivity is exactly zero beyond that front and
    non-zero up to it."""
    model, _, _ = task
    lr = 0.5 * B * T / 10.0  # relax each embedding half-way towards its neighbour's end
    problem = _problem(task, freeze_every=freeze, train_params=False, optimizer=optax.sgd(lr))
    steps = 6
    reach = np.asarray(information_travel(problem, model, steps))
    assert reach.shape == (steps, K)
    for n in range(steps):
        front = (n + 1) // freeze  # embedding updates done so far
        for k in range(K):
            if k == 0 or k > front:
                assert reach[n, k] == 0.0, (n, k)
            else:
                assert reach[n, k] > 0.0, (n, k)


def test_sharded_equals_vmapped(task):
    model, _, _ = task
    results = []
    for mesh in (None, decomp.time_mesh(4)):
        problem = _problem(task, mesh=mesh, freeze_every=2)
        state = problem.init(model)
        for _ in range(3):
            state, metrics = problem.step(state)
        results.append((state.params, state.starts, metrics))
    assert tree_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)
