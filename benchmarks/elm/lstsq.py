"""Speed and accuracy of the three least-squares methods on one hidden-state matrix."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from paratime.elm._lstsq import METHODS, _solve, condition_number, default_blocks, spectrum


def reference_ridge(H, Y, lam: float) -> np.ndarray:
    """β of the centred ridge problem by `numpy.linalg.lstsq` on [H_c; √λ I], in float64."""
    H, Y = np.asarray(H, np.float64), np.asarray(Y, np.float64)
    Hc, Yc = H - H.mean(0), Y - Y.mean(0)
    p = H.shape[1]
    A = np.r_[Hc, np.sqrt(lam) * np.eye(p)]
    return np.linalg.lstsq(A, np.r_[Yc, np.zeros((p, Y.shape[1]))], rcond=None)[0]


def compare_methods(H, Y, lam: float, *, repeats: int = 3) -> dict:
    """Per method: median warm wall and CPU seconds, relative error of β against the
    float64 reference, and the relative residual ‖Hβ − Y‖/‖Y‖ (centred)."""
    H, Y = jnp.asarray(H), jnp.asarray(Y, H.dtype)
    ref = reference_ridge(H, Y, lam)
    Hc = np.asarray(H, np.float64) - np.asarray(H, np.float64).mean(0)
    Yc = np.asarray(Y, np.float64) - np.asarray(Y, np.float64).mean(0)
    blocks = default_blocks(*H.shape)
    out = {
        "rows": int(H.shape[0]),
        "columns": int(H.shape[1]),
        "dtype": str(H.dtype),
        "lam": lam,
        "condition_number": condition_number(spectrum(H, Y, method="svd")),
        "qr_blocks": blocks,
        "methods": {},
    }
    lam_arr = jnp.asarray(lam, H.dtype)
    for method in METHODS:
        jax.block_until_ready(_solve(H, Y, lam_arr, method, blocks))
        times, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            beta, _ = jax.block_until_ready(_solve(H, Y, lam_arr, method, blocks))
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        beta = np.asarray(beta, np.float64)
        out["methods"][method] = {
            "seconds": float(np.median(times)),
            "cpu_seconds": float(np.median(cpu)),
            "beta_relative_error": float(np.linalg.norm(beta - ref) / np.linalg.norm(ref)),
            "relative_residual": float(np.linalg.norm(Hc @ beta - Yc) / np.linalg.norm(Yc)),
        }
    return out


def ill_conditioned(n: int, p: int, cond: float, *, seed: int = 0, dtype=None):
    """A random n×p matrix with singular values log-spaced from 1 to 1/cond, and targets."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, p)))
    V, _ = np.linalg.qr(rng.normal(size=(p, p)))
    H = (U * np.logspace(0, -np.log10(cond), p)) @ V.T
    Y = H @ rng.normal(size=(p, 1)) + 1e-3 * rng.normal(size=(n, 1))
    dtype = jnp.float64 if dtype is None else dtype
    return jnp.asarray(H, dtype), jnp.asarray(Y, dtype)
