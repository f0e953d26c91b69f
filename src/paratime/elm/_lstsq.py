"""Ridge least squares for the ELM output layer: batched QR, Cholesky, SVD; GCV; conditioning.

All three methods solve min_β ‖(H - h̄)β - (Y - ȳ)‖² + λ‖β‖² with an unpenalised intercept
(the column means are removed first), and agree to rounding on well-conditioned problems.
"""

import math
import warnings
from typing import Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, Float

Method = Literal["qr", "cholesky", "svd"]
_Matrix = Array | np.ndarray  # public functions accept NumPy arrays too
METHODS: tuple[str, ...] = get_args(Method)


class IllConditionedWarning(UserWarning):
    """H is (numerically) rank deficient; the ridge-regularised solution is returned."""


class Spectrum(eqx.Module):
    """What GCV and the condition number need: H_c = U diag(s) Vᵀ and z = Uᵀ Y_c."""

    s: Float[Array, " p"]
    z: Float[Array, "p k"]
    yy: Float[Array, ""]
    n: int = eqx.field(static=True)


def _check(H, Y):
    if H.ndim != 2:
        raise ValueError(f"`H` must have shape (n, p); got {H.shape}.")
    if Y.ndim != 2 or Y.shape[0] != H.shape[0]:
        raise ValueError(f"`Y` must have shape ({H.shape[0]}, k) to match `H`; got {Y.shape}.")
    if H.shape[0] < 2:
        raise ValueError(f"`H` needs at least 2 rows (samples); got {H.shape[0]}.")


def _centre(H, Y):
    h_mean, y_mean = H.mean(axis=0), Y.mean(axis=0)
    return H - h_mean, Y - y_mean, h_mean, y_mean


def _r_factor(A: Float[Array, "n m"], blocks: int) -> Float[Array, "m m"]:
    """The R factor of a tall-skinny A by a two-level (batched) QR: QR of row blocks in one
    batched call, then QR of the stacked R factors. Zero rows pad A; they do not change R."""
    n, m = A.shape
    rows = max(-(-n // blocks), m)
    pad = rows * blocks - n
    A = jnp.concatenate([A, jnp.zeros((pad, m), A.dtype)]) if pad else A
    r_blocks = jnp.linalg.qr(A.reshape(blocks, rows, m), mode="r")  # (blocks, m, m)
    if blocks == 1:
        return r_blocks[0]
    return jnp.linalg.qr(r_blocks.reshape(blocks * m, m), mode="r")


def default_blocks(n: int, m: int) -> int:
    """How many row blocks the QR uses. On GPU: enough to fill the device, each block at
    least 4m rows. On CPU: one, because XLA runs batched QR there much slower than a single
    LAPACK QR of the whole matrix (measured; see docs/elm.md)."""
    if jax.default_backend() == "cpu":
        return 1
    return max(1, min(64, n // max(4 * m, 1)))


class _Factor(eqx.Module):
    """One factorisation of the centred problem, from which both the spectrum (for GCV and
    the condition number) and the ridge solution for any λ follow cheaply (p×p work)."""

    a: Array  # qr: R; cholesky: HᵀH; svd: Vᵀ
    b: Array  # qr: QᵀY; cholesky: HᵀY; svd: UᵀY
    s: Array  # singular values of the centred H
    z: Array  # Uᵀ Y_c
    h_mean: Array
    y_mean: Array
    yy: Array


@eqx.filter_jit
def _factor(H, Y, method: str, blocks: int) -> _Factor:
    Hc, Yc, h_mean, y_mean = _centre(H, Y)
    p = H.shape[1]
    yy = jnp.sum(Yc**2)
    if method == "qr":
        Ra = _r_factor(jnp.concatenate([Hc, Yc], axis=1), blocks)
        R, C = Ra[:p, :p], Ra[:p, p:]
        U, s, _ = jnp.linalg.svd(R)
        return _Factor(R, C, s, U.T @ C, h_mean, y_mean, yy)
    if method == "svd":
        U, s, Vt = jnp.linalg.svd(Hc, full_matrices=False)
        z = U.T @ Yc
        return _Factor(Vt, z, s, z, h_mean, y_mean, yy)
    G, b = Hc.T @ Hc, Hc.T @ Yc
    ev, V = jnp.linalg.eigh(G)
    ev, V = ev[::-1], V[:, ::-1]
    s = jnp.sqrt(jnp.clip(ev, 0))
    tol = s[0] * jnp.finfo(H.dtype).eps ** 0.5
    z = jnp.where(s[:, None] > tol, (V.T @ b) / jnp.where(s > tol, s, 1)[:, None], 0)
    return _Factor(G, b, s, z, h_mean, y_mean, yy)


@eqx.filter_jit
def _solve_factor(f: _Factor, lam, method: str):
    p = f.s.shape[0]
    eye = jnp.eye(p, dtype=f.s.dtype)
    if method == "qr":
        Q, Rl = jnp.linalg.qr(jnp.concatenate([f.a, jnp.sqrt(lam) * eye]))
        rhs = jnp.concatenate([f.b, jnp.zeros_like(f.b)])
        beta = jsl.solve_triangular(Rl, Q.T @ rhs, lower=False)
    elif method == "cholesky":
        beta = jsl.cho_solve(jsl.cho_factor(f.a + lam * eye, lower=True), f.b)
    else:
        filt = jnp.where(f.s > 0, f.s / (f.s**2 + lam), 0)
        beta = f.a.T @ (filt[:, None] * f.b)
    return beta, f.y_mean - f.h_mean @ beta


def _solve(H, Y, lam, method: str, blocks: int):
    """Factor and solve in one go (used by the method comparison)."""
    return _solve_factor(_factor(H, Y, method, blocks), lam, method)


def spectrum(
    H: Float[_Matrix, "n p"], Y: Float[_Matrix, "n k"], *, method: Method = "svd"
) -> Spectrum:
    """The singular values of the centred H and the rotated targets, computed by `method`
    ("qr": SVD of the small R factor; "svd": of H itself; "cholesky": eigenvalues of HᵀH)."""
    _check(H, Y)
    f = _factor(H, Y, method, default_blocks(*H.shape))
    return Spectrum(f.s, f.z, f.yy, H.shape[0])


def condition_number(spec: Spectrum) -> float:
    """σ_max / σ_min of the centred H (infinite when H is rank deficient)."""
    s = np.asarray(spec.s)
    return math.inf if s[-1] <= 0 else float(s[0] / s[-1])


def lambda_grid(spec: Spectrum, num: int = 61) -> Float[np.ndarray, " num"]:
    """Candidate λ, log-spaced relative to σ_max²: from about machine precision to 10 σ_max²."""
    eps = float(jnp.finfo(spec.s.dtype).eps)
    smax2 = max(float(spec.s[0]) ** 2, np.finfo(np.float64).tiny)
    return smax2 * np.logspace(np.log10(max(eps, 1e-14)), 1.0, num)


def gcv_scores(spec: Spectrum, lams) -> Float[Array, " L"]:
    """Generalised cross-validation (Golub, Heath and Wahba 1979) for each λ:
    GCV(λ) = n·RSS(λ) / (n − df(λ))², with df(λ) = Σ σ²/(σ²+λ) + 1 (the intercept)."""
    return _gcv_scores(spec, jnp.asarray(lams, spec.s.dtype))


@eqx.filter_jit
def _gcv_scores(spec: Spectrum, lams):
    s2 = spec.s**2
    z2 = jnp.sum(spec.z**2, axis=1)
    outside = jnp.clip(spec.yy - jnp.sum(z2), 0)
    shrink = lams[:, None] / (s2[None, :] + lams[:, None])
    rss = outside + jnp.sum(shrink**2 * z2[None, :], axis=1)
    df = jnp.sum(1 - shrink, axis=1) + 1
    slack = jnp.maximum(spec.n - df, 1e-12)
    return spec.n * rss / slack**2


def select_lambda_gcv(spec: Spectrum, lams=None) -> float:
    """The λ in `lams` (default `lambda_grid`) with the smallest GCV score."""
    lams = lambda_grid(spec) if lams is None else np.asarray(lams, dtype=np.float64)
    scores = np.asarray(gcv_scores(spec, lams))
    return float(lams[int(np.nanargmin(scores))])


def ridge_path(
    H: Float[_Matrix, "n p"], Y: Float[_Matrix, "n k"], lams=None
) -> tuple[Float[np.ndarray, " L"], Float[Array, "L p k"], Float[Array, "L k"]]:
    """Ridge solutions for many λ from one SVD of the centred H.

    **Returns:**

    `(lams, betas, intercepts)`: the λ used (default `lambda_grid`), and for each the readout
    with predictions `H @ betas[i] + intercepts[i]`.
    """
    _check(H, Y)
    H, Y = jnp.asarray(H), jnp.asarray(Y)
    Hc, Yc, h_mean, y_mean = _centre(H, Y)
    U, s, Vt = jnp.linalg.svd(Hc, full_matrices=False)
    spec = Spectrum(s, U.T @ Yc, jnp.sum(Yc**2), H.shape[0])
    lams = lambda_grid(spec) if lams is None else np.asarray(lams, dtype=np.float64)
    filt = s[None, :] / (s[None, :] ** 2 + jnp.asarray(lams, s.dtype)[:, None])  # (L, p)
    betas = jnp.einsum("pq,lq,qk->lpk", Vt.T, filt, spec.z)
    return lams, betas, y_mean[None] - jnp.einsum("p,lpk->lk", h_mean, betas)


def select_lambda_validation(
    H_train: Float[_Matrix, "n p"],
    Y_train: Float[_Matrix, "n k"],
    H_val: Float[_Matrix, "m p"],
    Y_val: Float[_Matrix, "m k"],
    lams=None,
) -> float:
    """The λ whose ridge fit on the training rows has the smallest validation RMSE.
    Every λ is solved at once from one SVD of the centred training H (`ridge_path`)."""
    _check(H_val, Y_val)
    lams, betas, intercepts = ridge_path(H_train, Y_train, lams)
    pred = jnp.einsum("mp,lpk->lmk", jnp.asarray(H_val), betas) + intercepts[:, None]
    mse = jnp.mean((pred - jnp.asarray(Y_val)[None]) ** 2, axis=(1, 2))
    return float(lams[int(np.nanargmin(np.asarray(mse)))])


def ridge(
    H: Float[_Matrix, "n p"],
    Y: Float[_Matrix, "n k"],
    lam: float | int | str = "gcv",
    *,
    method: str = "qr",
    cond_limit: float | None = None,
    spec: Spectrum | None = None,
) -> tuple[Float[Array, "p k"], Float[Array, " k"], dict]:
    """Ridge regression of `Y` on `H` with an unpenalised intercept.

    **Arguments:**

    - `H`: the hidden-state matrix, one row per sample.
    - `Y`: the targets, one row per sample.
    - `lam`: the ridge penalty λ ≥ 0, or `"gcv"` to choose it by generalised cross-validation.
    - `method`: `"qr"` (QR of [H Y], two-level and batched over row blocks on GPU, then QR
        of [R; √λ I]; accurate), `"cholesky"` (normal equations HᵀH + λI; the fastest, but
        squares the condition number) or `"svd"` (filter factors σ/(σ²+λ); the most robust).
        Each factorises H once; GCV and the condition number reuse that factorisation.
    - `cond_limit`: above this condition number of H a warning is issued and λ is raised, if
        needed, so that the regularised problem is well posed. Default: 1/√eps of the dtype.
    - `spec`: a precomputed `spectrum(H, Y)` (saves one factorisation).

    **Returns:**

    `(beta, intercept, info)`; predictions are `H @ beta + intercept`. `info` has `lam`,
    `condition_number` and `method`.

    **Raises:**

    `ValueError` for bad shapes, a negative λ or an unknown method.

    **Warns:**

    `IllConditionedWarning` naming the condition number when H is (nearly) rank deficient.
    """
    H, Y = jnp.asarray(H), jnp.asarray(Y)
    _check(H, Y)
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    if not (lam == "gcv" or (isinstance(lam, int | float) and lam >= 0)):
        raise ValueError(f"`lam` must be a number >= 0 or 'gcv'; got {lam!r}.")
    if not jnp.issubdtype(H.dtype, jnp.floating):
        H = H.astype(float)
    Y = Y.astype(H.dtype)
    factor = _factor(H, Y, method, default_blocks(*H.shape))
    spec = Spectrum(factor.s, factor.z, factor.yy, H.shape[0]) if spec is None else spec
    lam = select_lambda_gcv(spec) if lam == "gcv" else float(lam)
    cond = condition_number(spec)
    eps = float(jnp.finfo(H.dtype).eps)
    limit = 1 / math.sqrt(eps) if cond_limit is None else cond_limit
    if cond > limit:
        floor = 10 * (float(spec.s[0]) / limit) ** 2
        warnings.warn(
            f"The hidden-state matrix H ({H.shape[0]}×{H.shape[1]}) is ill-conditioned: "
            f"condition number {cond:.3g} > {limit:.3g}. Returning the ridge-regularised "
            f"solution with λ = {max(lam, floor):.3g}"
            + (f" (raised from {lam:.3g})" if lam < floor else "")
            + ". Fewer hidden units, a smaller spectral radius or a larger λ avoid this"
            + (
                "; so does float64 (jax.config.update('jax_enable_x64', True) before "
                "building the data), whose limit is far higher."
                if H.dtype == jnp.float32
                else "."
            ),
            IllConditionedWarning,
            stacklevel=2,
        )
        lam = max(lam, floor)
    beta, intercept = _solve_factor(factor, jnp.asarray(lam, H.dtype), method)
    return beta, intercept, {"lam": lam, "condition_number": cond, "method": method}
