"""Ridge least squares for the ELM readout: QR, Cholesky and SVD against numpy; GCV; warnings."""

import warnings

import hypothesis.strategies as st
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from paratime import elm


def _well_conditioned(rng, n, p, k):
    H = rng.normal(size=(n, p)) + rng.normal(size=(1, p))  # non-zero column means
    Y = H @ rng.normal(size=(p, k)) + 0.3 * rng.normal(size=(n, k)) + 2.0
    return H, Y


N, P, K = 120, 8, 2  # one shape for most tests: every new shape costs a compilation


@settings(max_examples=4, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
    shape=st.sampled_from([(N, P, K), (40, 1, 1)]),
)
def test_methods_agree_with_numpy_lstsq(seed, scale, shape):
    n, p, k = shape
    H, Y = _well_conditioned(np.random.default_rng(seed), n, p, k)
    H = H * scale
    ref, *_ = np.linalg.lstsq(np.c_[H, np.ones(n)], Y, rcond=None)
    for method in elm.METHODS:
        beta, intercept, info = elm.ridge(jnp.asarray(H), jnp.asarray(Y), 0.0, method=method)
        tol = 1e-7 if method == "cholesky" else 1e-9
        np.testing.assert_allclose(beta, ref[:p], rtol=tol, atol=tol * np.abs(ref).max())
        np.testing.assert_allclose(intercept, ref[p], rtol=tol, atol=tol * np.abs(ref).max())
        assert info["method"] == method and info["lam"] == 0.0


@pytest.mark.parametrize("lam", [1e-3, 1.0, 50.0])
def test_ridge_with_penalty_matches_augmented_lstsq(lam):
    rng = np.random.default_rng(1)
    H, Y = _well_conditioned(rng, N, P, K)
    Hc, Yc = H - H.mean(0), Y - Y.mean(0)
    A = np.r_[Hc, np.sqrt(lam) * np.eye(P)]
    ref = np.linalg.lstsq(A, np.r_[Yc, np.zeros((P, K))], rcond=None)[0]
    for method in elm.METHODS:
        beta, intercept, _ = elm.ridge(H, Y, lam, method=method)
        np.testing.assert_allclose(beta, ref, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(intercept, Y.mean(0) - H.mean(0) @ ref, rtol=1e-8)


def test_batched_qr_uses_blocks_and_matches_single_block():
    rng = np.random.default_rng(2)
    H, Y = _well_conditioned(rng, 2000, 5, 1)
    # the GPU path splits rows into blocks; on CPU one LAPACK QR is faster
    assert elm._lstsq.default_blocks(2000, 6) >= 1
    R_many = elm._lstsq._r_factor(jnp.asarray(np.c_[H, Y]), 16)
    R_one = elm._lstsq._r_factor(jnp.asarray(np.c_[H, Y]), 1)
    np.testing.assert_allclose(np.abs(R_many), np.abs(R_one), rtol=1e-9, atol=1e-9)


def test_gcv_matches_hat_matrix_formula():
    rng = np.random.default_rng(3)
    H, Y = _well_conditioned(rng, N, P, K)
    n = len(H)
    Hc, Yc = H - H.mean(0), Y - Y.mean(0)
    lams = np.array([1e-4, 0.1, 3.0, 100.0])
    for method in elm.METHODS:
        spec = elm.spectrum(jnp.asarray(H), jnp.asarray(Y), method=method)
        scores = np.asarray(elm.gcv_scores(spec, lams))
        for lam, score in zip(lams, scores):
            S = Hc @ np.linalg.solve(Hc.T @ Hc + lam * np.eye(P), Hc.T)
            rss = np.sum((Yc - S @ Yc) ** 2)
            df = np.trace(S) + 1
            np.testing.assert_allclose(score, n * rss / (n - df) ** 2, rtol=1e-7)


def test_gcv_prefers_more_regularisation_for_pure_noise():
    rng = np.random.default_rng(4)
    H = rng.normal(size=(N, P))
    lam_noise = elm.select_lambda_gcv(elm.spectrum(H, rng.normal(size=(N, K))))
    lam_signal = elm.select_lambda_gcv(elm.spectrum(H, H @ rng.normal(size=(P, K))))
    assert lam_noise > 1e3 * lam_signal


def test_validation_lambda_is_the_grid_minimiser():
    rng = np.random.default_rng(5)
    H = rng.normal(size=(N, P))
    Y = H @ (0.3 * rng.normal(size=(P, K))) + rng.normal(size=(N, K))  # noisy: λ matters
    m = 16  # few training rows, so some shrinkage beats none
    lams = np.logspace(-4, 3, 8)
    chosen = elm.select_lambda_validation(H[:m], Y[:m], H[m:], Y[m:], lams)
    errs = []
    Hc, Yc = H[:m] - H[:m].mean(0), Y[:m] - Y[:m].mean(0)
    for lam in lams:
        beta = np.linalg.solve(Hc.T @ Hc + lam * np.eye(P), Hc.T @ Yc)
        b = Y[:m].mean(0) - H[:m].mean(0) @ beta
        errs.append(np.mean((H[m:] @ beta + b - Y[m:]) ** 2))
    assert 0 < int(np.argmin(errs)) < len(lams) - 1
    assert chosen == lams[int(np.argmin(errs))]


def test_rank_deficient_h_warns_with_condition_number_and_regularises():
    rng = np.random.default_rng(6)
    H = rng.normal(size=(N, P - 1))
    H = np.c_[H, 2 * H[:, 0]]  # an exactly collinear column
    Y = rng.normal(size=(N, K))
    for method in elm.METHODS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            beta, intercept, info = elm.ridge(H, Y, 0.0, method=method)
        messages = [str(w.message) for w in caught if w.category is elm.IllConditionedWarning]
        assert len(messages) == 1 and "condition number" in messages[0]
        assert f"{info['condition_number']:.3g}" in messages[0]
        assert info["lam"] > 0 and np.all(np.isfinite(beta))
        # the regularised fit is as good as the least-squares one
        ref = np.linalg.lstsq(np.c_[H, np.ones(N)], Y, rcond=None)[0]
        fit = H @ beta + intercept
        np.testing.assert_allclose(fit, np.c_[H, np.ones(N)] @ ref, atol=1e-6)


def test_an_ill_conditioned_float32_h_suggests_float64():
    rng = np.random.default_rng(7)
    H = rng.normal(size=(N, P - 1))
    H = np.c_[H, 2 * H[:, 0]].astype(np.float32)
    Y = rng.normal(size=(N, K)).astype(np.float32)
    with pytest.warns(elm.IllConditionedWarning, match="float64.*jax_enable_x64"):
        elm.ridge(jnp.asarray(H), jnp.asarray(Y), 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        elm.ridge(jnp.asarray(H, jnp.float64), jnp.asarray(Y, jnp.float64), 0.0)
    assert caught and all("jax_enable_x64" not in str(w.message) for w in caught)


def test_well_conditioned_h_does_not_warn():
    H, Y = _well_conditioned(np.random.default_rng(7), N, P, K)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        elm.ridge(H, Y, "gcv")


def test_bad_arguments():
    H, Y = np.ones((10, 2)), np.ones((10, 1))
    with pytest.raises(ValueError, match="`method`"):
        elm.ridge(H, Y, 0.0, method="lu")
    with pytest.raises(ValueError, match="`lam`"):
        elm.ridge(H, Y, -1.0)
    # shape errors are ValueErrors (TypeErrors when jaxtyping checks the annotations)
    with pytest.raises((ValueError, TypeError)):
        elm.ridge(H, np.ones((9, 1)), 0.0)
    with pytest.raises((ValueError, TypeError)):
        elm.ridge(np.ones(10), Y, 0.0)
