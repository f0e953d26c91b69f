"""Decomposition in time (D'Amore): windows, the overlap operator, both variants, sharding."""

import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

from helpers import tree_allclose
from paratime import decomp

# the tasks of the decomposition evidence live with its benchmark
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.decomp.tasks import recall_task  # noqa: E402

B, T, N, K, O = 2, 27, 4, 4, 3  # T = K·S + O with S = 6


@pytest.fixture(scope="module")
def task():
    xs, ys = recall_task(jax.random.key(0), B, T, noise=0.3)
    model = decomp.RNN.gru(2, N, 1, key=jax.random.key(1))
    return model, xs, ys


def _problem(task, *, mesh=None, **kwargs):
    model, xs, ys = task
    kwargs = {"overlap": O, "mu": 10.0, "inner_steps": 4, **kwargs}
    cfg = decomp.Decomposition(K, **kwargs)
    return decomp.DecomposedProblem(model, xs, ys, cfg, optax.adam(2e-2), mesh=mesh)


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 4), st.integers(0, 3), st.integers(4, 6), st.integers(1, 2))
def test_windows_split_merge_and_weights(k, overlap, stride, features):
    windows = decomp.Windows(k, overlap)
    length = k * stride + overlap
    x = np.arange(length * features, dtype=float).reshape(length, features)
    w = windows.split(x)
    assert w.shape == (k, stride + overlap, features)
    np.testing.assert_array_equal(windows.merge(w, length), x)
    # the loss weights of all windows cover every step exactly once
    cover = np.zeros(length)
    for i in range(k):
        cover[i * stride : i * stride + stride + overlap] += windows.weights(i, length)
    np.testing.assert_allclose(cover, 1.0)
    # shared steps agree between neighbours
    for i in range(k - 1):
        np.testing.assert_array_equal(w[i, stride:], w[i + 1, :overlap])


def test_bad_input(task):
    with pytest.raises(ValueError, match="num_windows"):
        decomp.Windows(0)
    with pytest.raises(ValueError, match="multiple of `num_windows`"):
        decomp.Windows(4, 3).split(jnp.zeros((28, 1)))
    with pytest.raises(ValueError, match="smaller than the stride"):
        decomp.Windows(4, 6).split(jnp.zeros((30, 1)))
    with pytest.raises(ValueError, match="overlap"):
        decomp.Decomposition(K, overlap=0)
    with pytest.raises(ValueError, match="variant"):
        decomp.Decomposition(K, variant="global")
    with pytest.raises(ValueError, match="mu"):
        decomp.Decomposition(K, mu=-1.0)
    model, xs, ys = task
    with pytest.raises(ValueError, match="xs"):
        decomp.DecomposedProblem(model, xs[0], ys, decomp.Decomposition(K), optax.sgd(0.1))
    with pytest.raises(ValueError, match="multiple of"):
        _problem(task, mesh=decomp.time_mesh(3)).init(model)


def test_consistent_windows_reproduce_full_loss(task):
    """Started from the true trajectory, the windows agree and their losses sum to the full
    loss: the decomposed problem and full-sequence BPTT coincide there."""
    model, xs, ys = task
    problem = _problem(task, init="unroll")
    state = problem.init(model)
    total, parts = eqx.filter_jit(problem.objective)(state.params, state.starts, state)
    full = decomp.sequence_loss(model, xs, ys)
    assert jnp.allclose(jnp.sum(parts["data"]), full, rtol=1e-12)
    assert float(jnp.max(parts["penalty"])) < 1e-20
    assert jnp.allclose(total, full, rtol=1e-12)


@pytest.fixture(scope="module")
def runs(task):
    """BPTT and the decomposition at two overlap weights, the same number of gradient steps."""
    model, xs, ys = task
    outer, inner = 30, 4
    _, bptt = decomp.fit_bptt(model, xs, ys, optax.adam(2e-2), steps=outer * inner)
    out = {"bptt": bptt[-1]["loss"]}
    for mu in (0.1, 10.0):
        _, out[mu] = decomp.fit_problem(_problem(task, mu=mu), model, steps=outer, eval_every=5)
    return out


def test_mismatch_shrinks_as_mu_grows(runs):
    assert runs[10.0][-1]["mismatch"] < 0.3 * runs[0.1][-1]["mismatch"]


def test_outer_iterations_approach_bptt(runs):
    hist, bptt = runs[10.0], runs["bptt"]
    evaluated = [r for r in hist if "loss" in r]
    gaps = [abs(r["loss"] - bptt) for r in evaluated]
    assert gaps[-1] < 0.05 * gaps[0]  # the full-sequence loss gap closes
    assert hist[-1]["mismatch"] < 0.2 * hist[0]["mismatch"]  # and the windows agree
    # at equal gradient steps, the decomposed θ is closer to BPTT's loss with the larger μ
    assert gaps[-1] <= abs(runs[0.1][-1]["loss"] - bptt) + 1e-3


def test_local_variant_reaches_consensus(task):
    model, _, _ = task
    problem = _problem(task, variant="local", rho=1.0)
    state, hist = decomp.fit_problem(problem, model, steps=20, eval_every=20)
    spread = lambda p: sum(float(jnp.sum(jnp.var(x, axis=0))) for x in jax.tree.leaves(p))  # noqa: E731
    assert hist[-1]["consensus"] < hist[0]["consensus"]
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    assert spread(state.params) > 0  # the copies are really local
    assert isinstance(problem.model(state), decomp.RNN)


def test_sharded_equals_vmapped(task):
    """Shared θ: whole outer iterations (local solves, the θ-gradient summed over devices,
    the ppermute exchange) on 4 devices equal the single-device run."""
    model, _, _ = task
    results = []
    for mesh in (None, decomp.time_mesh(4)):
        problem = _problem(task, mesh=mesh)
        state = problem.init(model)
        for _ in range(2):
            state, metrics = problem.step(state)
        results.append((state.params, state.starts, state.left, state.right, metrics))
    assert tree_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)


def test_sharded_exchange_local_variant(task):
    """Local θ_k: the neighbour exchange (overlap states and the neighbour mean θ̄_k, both by
    ppermute) and the local objectives on 4 devices equal the single-device ones."""
    model, _, _ = task
    base = _problem(task, variant="local")
    state = base.init(model)
    params = jax.tree.map(  # make the copies differ, so that θ̄_k is a real average
        lambda x: x + 0.1 * jnp.arange(K, dtype=x.dtype).reshape((K,) + (1,) * (x.ndim - 1)),
        state.params,
    )
    results = []
    for mesh in (None, decomp.time_mesh(4)):
        problem = _problem(task, mesh=mesh, variant="local")
        exchanged = eqx.filter_jit(problem.exchange)(params, state.starts)
        objective = eqx.filter_jit(problem.objective)(params, state.starts, state)
        results.append((exchanged, objective))
    assert tree_allclose(results[0], results[1], rtol=1e-12, atol=1e-14)
    anchor = results[0][0]["anchor"]
    expected = jax.tree.map(lambda x: (x[0] + x[1] + x[2]) / 3, params)  # window 1
    assert tree_allclose(jax.tree.map(lambda a: a[1], anchor), expected)


def test_resume_reproduces_uninterrupted_run(task, tmp_path):
    model, _, _ = task
    problem = _problem(task)
    full, _ = decomp.fit_problem(problem, model, steps=4)
    decomp.fit_problem(problem, model, steps=2, out_dir=tmp_path)
    resumed, hist = decomp.fit_problem(problem, model, steps=4, out_dir=tmp_path, resume=True)
    assert [r["step"] for r in hist] == [0, 1, 2, 3]
    params = lambda s: eqx.filter(s, eqx.is_inexact_array)  # noqa: E731
    assert tree_allclose(params(full), params(resumed), rtol=0, atol=0)


@pytest.mark.parametrize("batch, length, name", [(0, 10, "batch"), (2, 0, "length")])
def test_recall_task_names_a_bad_count(batch, length, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        recall_task(jax.random.key(0), batch, length)
