"""H built in parallel (vmap over windows, unroll inside) equals a plain sequential loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from paratime import elm
from paratime.elm._cells import direct_inputs, uses_feedback

B, W, D, N = 3, 6, 2, 4


def _loop_rows(cell, U, F, direct):
    rows = []
    for u, fb in zip(jnp.asarray(U), jnp.asarray(F)):
        h = cell.init_state()
        for t in range(W):
            h = cell(h, (u[t], fb[t]) if uses_feedback(cell) else u[t])
        row = [np.asarray(cell.output(h))]
        if direct:
            row.append(np.asarray(direct_inputs(cell, h, u[-1])))
        rows.append(np.concatenate(row))
    return np.stack(rows)


@pytest.mark.parametrize("arch", elm.ARCHITECTURES)
def test_parallel_hidden_matrix_equals_sequential_loop(arch, getkey):
    cell = elm.make_cell(arch, D, N, key=getkey(), lags=2, spectral_radius=0.8)
    U = jax.random.normal(getkey(), (B, W, D))
    F = jax.random.normal(getkey(), (B, W, D))
    # the parallel construction (DEER inside each window), with direct links
    H = elm.hidden_matrix(cell, U, F, direct=True, solver=paratime.DEER())
    np.testing.assert_allclose(H, _loop_rows(cell, U, F, True), rtol=1e-9, atol=1e-9)
    assert H.shape == (B, N + (2 * D if arch == "narmax" else D))
    # without direct links (Sequential inside: one DEER compilation per test is enough)
    H = elm.hidden_matrix(cell, U, F, direct=False, solver=paratime.Sequential())
    np.testing.assert_allclose(H, _loop_rows(cell, U, F, False), rtol=1e-12, atol=1e-12)
    assert H.shape == (B, N)


def test_quasi_deer_and_sequential_give_the_same_h(getkey):
    cell = elm.make_cell("gru", D, N, key=getkey())
    U = jax.random.normal(getkey(), (B, W, D))
    H_seq = elm.hidden_matrix(cell, U, solver=paratime.Sequential())
    H_par = elm.hidden_matrix(cell, U, solver=paratime.QuasiDEER())
    np.testing.assert_allclose(H_par, H_seq, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(H_seq, _loop_rows(cell, U, U, True), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("arch", ["jordan", "narmax", "fully-connected"])
def test_closed_loop_feeds_back_own_predictions(arch, getkey):
    cell = elm.make_cell(arch, D, N, key=getkey(), lags=2)
    F_dim = N + (2 * D if arch == "narmax" else D)
    beta = 0.3 * jax.random.normal(getkey(), (F_dim, D))
    b = jnp.array([0.1, -0.2])
    U = jax.random.normal(getkey(), (B, W, D))
    y0 = jax.random.normal(getkey(), (B, D))
    out = elm.closed_loop_outputs(cell, beta, b, U, y0, solver=paratime.DEER())
    for i in range(B):
        h, y = cell.init_state(), y0[i]
        for t in range(W):
            h = cell(h, (U[i, t], y))
            y = jnp.concatenate([cell.output(h), direct_inputs(cell, h, U[i, t])]) @ beta + b
        np.testing.assert_allclose(out[i], y, rtol=1e-9, atol=1e-10)


def test_feedback_cells_need_feedback(getkey):
    cell = elm.make_cell("jordan", D, N, key=getkey())
    with pytest.raises(ValueError, match="feedback"):
        elm.hidden_matrix(cell, jnp.zeros((B, W, D)))
    with pytest.raises((ValueError, TypeError)):  # TypeError when jaxtyping checks shapes
        elm.hidden_matrix(cell, jnp.zeros((W, D)), jnp.zeros((W, D)))


def test_make_cell_scales_recurrent_weights(getkey):
    for arch in ("elman", "fully-connected", "gru", "lstm"):
        cell = elm.make_cell(arch, D, N, key=getkey(), spectral_radius=0.7, input_scaling=0.3)
        blocks = jnp.split(cell.weight_hh, cell.weight_hh.shape[0] // N)
        for w in blocks:
            assert abs(np.max(np.abs(np.linalg.eigvals(np.asarray(w)))) - 0.7) < 1e-8
        w_in = cell.weight_ih if hasattr(cell, "weight_ih") else cell.weight_in
        assert float(jnp.max(jnp.abs(w_in))) <= 0.3
    with pytest.raises(ValueError, match="`arch`"):
        elm.make_cell("transformer", D, N, key=getkey())
    with pytest.raises(ValueError, match="hidden_size"):
        elm.make_cell("gru", D, 0, key=getkey())
