"""Metrics of dynamical-systems reconstruction: geometry, spectra, prediction, Lyapunov exponents.

The definitions follow the generalized-teacher-forcing paper (Hess, Monfared, Brenner and
Durstewitz, ICML 2023) and its predecessors (Koppe et al. 2019; Brenner et al. 2022):

- `state_space_divergence` (D_stsp): KL divergence between where the true and the generated
  trajectories spend their time in state space.
- `power_spectrum_distance` (D_H): Hellinger distance between smoothed power spectra.
- `prediction_error` (PE(n)): mean squared n-step-ahead prediction error.
- `lyapunov_spectrum` / `max_lyapunov_exponent`: exponents of a model (a map) from its
  Jacobians; `data_lyapunov_exponent`: Rosenstein's estimate from a time series.

The geometric and spectral metrics are NumPy/SciPy (vectorised; T = 100 000 takes well under a
second); the model exponents run in JAX (`lax.scan` over Jacobian-vector products).
"""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Float, PyTree
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import KDTree


def _as_2d(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape (T, d) with T >= 2; got {np.shape(x)}.")
    return arr


def _pair(x_true: ArrayLike, x_gen: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xt, xg = _as_2d(x_true, "x_true"), _as_2d(x_gen, "x_gen")
    if xt.shape[1] != xg.shape[1]:
        raise ValueError(f"x_true has {xt.shape[1]} dimensions but x_gen has {xg.shape[1]}.")
    if not np.isfinite(xt).all():
        raise ValueError("x_true contains NaN or Inf; clean the reference data first.")
    return xt, xg


def _histogram_kl(xt: np.ndarray, xg: np.ndarray, bins: int, alpha: float) -> float:
    std = xt.std(axis=0)
    lo = xt.min(axis=0) - 0.1 * std
    width = (xt.max(axis=0) + 0.1 * std - lo) / bins
    width = np.where(width > 0, width, 1.0)
    strides = bins ** np.arange(xt.shape[1], dtype=np.int64)

    def flat_indices(x):
        with np.errstate(invalid="ignore"):
            idx = np.floor((x - lo) / width)
        inside = np.all((idx >= 0) & (idx < bins), axis=1)  # NaN rows are outside too
        return idx[inside].astype(np.int64) @ strides

    it, ig = flat_indices(xt), flat_indices(xg)
    if ig.size == 0:
        return math.inf
    # Sparse KL over the occupied bins; the bins empty in both have p0 log(p0 / q0) each.
    occupied, inverse = np.unique(np.concatenate([it, ig]), return_inverse=True)
    ct = np.bincount(inverse[: it.size], minlength=occupied.size)
    cg = np.bincount(inverse[it.size :], minlength=occupied.size)
    n_bins = float(bins) ** xt.shape[1]
    zt, zg = it.size + alpha * n_bins, ig.size + alpha * n_bins
    p, q = (ct + alpha) / zt, (cg + alpha) / zg
    p0, q0 = alpha / zt, alpha / zg
    empty = n_bins - occupied.size
    return float(np.sum(p * np.log(p / q)) + empty * p0 * np.log(p0 / q0))


def _gmm_kl(xt, xg, sigma, max_components, num_samples, seed) -> float:
    mean, std = xt.mean(axis=0), xt.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    xt, xg = (xt - mean) / std, (xg - mean) / std
    xg = xg[np.isfinite(xg).all(axis=1)]
    if xg.shape[0] == 0:
        return math.inf
    xt = xt[:: max(1, -(-xt.shape[0] // max_components))]
    xg = xg[:: max(1, -(-xg.shape[0] // max_components))]
    rng = np.random.default_rng(seed)
    samples = xt[rng.integers(0, xt.shape[0], num_samples)]
    samples = samples + sigma * rng.standard_normal(samples.shape)

    def log_density(centres):  # up to the constant shared by both mixtures
        out = []
        for s in np.array_split(samples, -(-len(samples) // 256)):  # bounded memory
            sq = (s**2).sum(1)[:, None] - 2.0 * s @ centres.T + (centres**2).sum(1)[None, :]
            e = -0.5 * np.maximum(sq, 0.0) / sigma**2
            top = e.max(axis=1, keepdims=True)  # log-sum-exp (scipy's is ~20x slower here)
            out.append(np.log(np.exp(e - top).sum(axis=1)) + top[:, 0])
        return np.concatenate(out) - np.log(len(centres))

    return float(np.mean(log_density(xt) - log_density(xg)))


def state_space_divergence(
    x_true: Float[ArrayLike, "T d"],
    x_gen: Float[ArrayLike, "T2 D"],
    *,
    bins: int = 30,
    alpha: float = 1e-5,
    method: str = "auto",
    sigma: float = 1.0,
    max_components: int = 10_000,
    num_samples: int = 1_000,
    seed: int = 0,
) -> float:
    """D_stsp: the KL divergence KL(p_true ‖ p_gen) of the state-space occupancies.

    **Histogram** (`method="histogram"`, the default for d < 6): a grid of `bins` bins per
    dimension spans [min − 0.1 std, max + 0.1 std] of the *true* data in each dimension.
    Both trajectories are counted on it; generated points outside the grid (and NaN/Inf
    rows) are dropped. Laplace smoothing adds `alpha` to every bin's count before
    normalising. The KL is computed over the occupied bins only, so memory stays O(T) even
    for 30⁵ bins.

    **Gaussian mixture** (`method="gmm"`, the default for d ≥ 6): each trajectory defines
    the mixture (1/K) Σ_t N(x_t, σ² I), after both are scaled by the true data's per-dimension
    mean and std (so `sigma` is in units of the data's std). At most `max_components` evenly
    strided points of each trajectory are used. KL(p_true ‖ p_gen) is estimated by Monte Carlo
    (Hershey and Olsen 2007): `num_samples` draws from p_true, log densities by log-sum-exp,
    so a far-off model gives a large finite value rather than an underflow. The cost is
    O(num_samples · max_components · d).

    **Arguments:**

    - `x_true`: reference trajectory `(T, d)` (finite).
    - `x_gen`: generated trajectory `(T2, d)`, usually a long free run of the model.
    - `bins`, `alpha`: histogram resolution and Laplace pseudo-count.
    - `method`: `"auto"`, `"histogram"` or `"gmm"`.
    - `sigma`, `max_components`, `num_samples`, `seed`: the mixture approximation.

    **Returns:**

    D_stsp ≥ 0 (0 for identical trajectories). `inf` if no generated point lies in the
    histogram grid (or all are non-finite), i.e. the model left the attractor entirely.

    **Raises:**

    `ValueError` for shapes that do not match, a non-finite `x_true`, an unknown method, or
    a histogram too large to index (bins^d > 2⁶²).

    ```python
    d_stsp = state_space_divergence(x_test, model_free_run)
    ```
    """
    xt, xg = _pair(x_true, x_gen)
    if method == "auto":
        method = "histogram" if xt.shape[1] < 6 else "gmm"
    if method == "histogram":
        if bins < 1 or alpha <= 0:
            raise ValueError(f"need bins >= 1 and alpha > 0; got bins={bins}, alpha={alpha}.")
        if float(bins) ** xt.shape[1] > 2.0**62:
            raise ValueError(f"{bins}^{xt.shape[1]} bins do not fit in int64; use method='gmm'.")
        return _histogram_kl(xt, xg, bins, alpha)
    if method == "gmm":
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0; got {sigma}.")
        return _gmm_kl(xt, xg, sigma, max_components, num_samples, seed)
    raise ValueError(f"method must be 'auto', 'histogram' or 'gmm'; got {method!r}.")


def power_spectra(x: Float[ArrayLike, "T d"], *, smoothing: float = 20.0) -> np.ndarray:
    """The normalised, smoothed power spectrum of each dimension, as used by D_H.

    Each dimension is z-scored; the spectrum is |rfft|², smoothed with a Gaussian kernel of
    standard deviation `smoothing` frequency bins (`scipy.ndimage.gaussian_filter1d`,
    reflecting ends), and normalised to sum to 1. A constant or non-finite dimension gives
    an all-zero column.

    **Returns:**

    An array of shape `(T // 2 + 1, d)`.
    """
    x = _as_2d(x, "x")
    finite = np.isfinite(x).all(axis=0)
    x = np.where(finite, x, 0.0)
    std = x.std(axis=0)
    ok = finite & (std > 0)
    z = np.where(ok, (x - x.mean(axis=0)) / np.where(ok, std, 1.0), 0.0)
    ps = np.abs(np.fft.rfft(z, axis=0)) ** 2
    if smoothing > 0:
        ps = gaussian_filter1d(ps, smoothing, axis=0)
    total = ps.sum(axis=0)
    return np.where(ok & (total > 0), ps / np.where(total > 0, total, 1.0), 0.0)


def power_spectrum_distance(
    x_true: Float[ArrayLike, "T d"],
    x_gen: Float[ArrayLike, "T2 D"],
    *,
    smoothing: float = 20.0,
    per_dimension: bool = False,
) -> float | np.ndarray:
    """D_H: the Hellinger distance between power spectra, averaged over dimensions.

    H(p, q) = sqrt(1 − Σ_f sqrt(p_f q_f)) for the spectra of [`power_spectra`][], in [0, 1].
    A dimension that is constant or non-finite in either series (e.g. a model that settled on
    a fixed point or blew up) counts as maximally distant, H = 1.

    **Arguments:**

    - `x_true`, `x_gen`: trajectories of the same shape `(T, d)`.
    - `smoothing`: the Gaussian kernel's standard deviation in frequency bins (σ = 20).
    - `per_dimension`: return the `(d,)` distances instead of their mean.

    **Returns:**

    D_H in [0, 1] (0 for identical trajectories).

    **Raises:**

    `ValueError` if the shapes differ or `x_true` is not finite.
    """
    xt, xg = _pair(x_true, x_gen)
    if xt.shape != xg.shape:
        raise ValueError(f"x_true and x_gen must have the same shape; got {xt.shape}, {xg.shape}.")
    p, q = power_spectra(xt, smoothing=smoothing), power_spectra(xg, smoothing=smoothing)
    # 1 - Σ sqrt(p q) = ½ Σ (sqrt p - sqrt q)² for normalised p, q; the right side has no
    # cancellation, so identical spectra give exactly 0.
    h = np.sqrt(np.clip(0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum(axis=0), 0.0, 1.0))
    h = np.where((p.sum(axis=0) > 0) & (q.sum(axis=0) > 0), h, 1.0)
    return h if per_dimension else float(h.mean())


def predictor_from_step(
    step: Callable[[Array], Array],
) -> Callable[[Array, int], Array]:
    """Turn a one-step map in observation space, `x_t -> x_{t+1}` on one `(d,)` state, into
    the `predict(windows, n)` of [`prediction_error`][]: it starts from each window's last
    observation and iterates `step` `n` times (vmapped over the batch)."""

    def predict(windows, n):
        def roll(x):
            return jax.lax.scan(lambda x, _: (step(x), step(x)), x, None, length=n)[1]

        return jax.vmap(roll)(jnp.asarray(windows)[:, -1])

    return predict


def prediction_error(
    predict: Callable[[Array, int], ArrayLike],
    x: Float[ArrayLike, "T d"],
    n: int,
    *,
    context: int = 0,
    num_starts: int = 1_000,
    all_steps: bool = False,
) -> float | np.ndarray:
    """PE(n): the mean squared error of n-step-ahead predictions from observed data.

    At `num_starts` evenly spaced times t (every t when fewer fit), the model reads the
    observations x[t − context], ..., x[t] and then runs freely;
    PE(n) = mean over t and dimensions of (x̂_{t+n} − x_{t+n})².

    **Arguments:**

    - `predict`: `predict(windows, n) -> x_hat`, mapping a batch of observation windows
        `(B, context + 1, d)` to the predictions `(B, n, d)` of x_{t+1}, ..., x_{t+n}, where
        t is each window's last step. A latent model infers its state from the window (with
        `context = 0`, from x_t alone, e.g. through the identity or pseudo-inverse of its
        observation model), iterates and decodes. For a map in observation space use
        [`predictor_from_step`][].
    - `x`: the observed series `(T, d)`, T > context + n.
    - `n`: the horizon (PE(20) is customary for Lorenz-63 at dt = 0.01).
    - `context`: extra past observations given to `predict` (a burn-in window).
    - `num_starts`: at most this many start times.
    - `all_steps`: return PE(1), ..., PE(n) as an `(n,)` array instead.

    **Returns:**

    PE(n) as a float (or the `(n,)` curve); NaN if a prediction is non-finite.

    **Raises:**

    `ValueError` if `n < 1`, `context < 0`, the series is too short, or `predict` returns
    the wrong shape.

    ```python
    pe20 = prediction_error(lambda w, n: jax.vmap(model.predict, (0, None))(w, n), x, 20,
                            context=50)
    ```
    """
    x = _as_2d(x, "x")
    T, d = x.shape
    if n < 1 or context < 0 or T <= context + n:
        raise ValueError(
            f"need n >= 1, context >= 0 and T > context + n; got n={n}, context={context}, T={T}."
        )
    count = min(num_starts, T - n - context)
    starts = np.unique(np.linspace(context, T - n - 1, count).round().astype(int))
    windows = x[starts[:, None] + np.arange(-context, 1)[None, :]]
    x_hat = np.asarray(predict(jnp.asarray(windows), n), dtype=np.float64)
    if x_hat.shape != (len(starts), n, d):
        raise ValueError(
            f"predict must return shape (B, n, d) = {(len(starts), n, d)}; got {x_hat.shape}."
        )
    target = x[starts[:, None] + np.arange(1, n + 1)[None, :]]
    mse = ((x_hat - target) ** 2).mean(axis=(0, 2))
    return mse if all_steps else float(mse[-1])


def lyapunov_spectrum(
    step: Callable[[PyTree], PyTree],
    z0: PyTree,
    T: int,
    *,
    k: int | None = None,
    jacobian: Callable[[Array], Array] | None = None,
    transient: int = 1_000,
    dt: float = 1.0,
    key: Array | None = None,
) -> Float[np.ndarray, " k"]:
    """The `k` largest Lyapunov exponents of the map `z -> step(z)` (QR / Benettin method).

    Along the orbit z_{t+1} = step(z_t), an orthonormal frame Q (N × k) is pushed forward by
    the Jacobian, Q ← J(z_t) Q, and re-orthonormalised by a QR decomposition at every step;
    λ_i = (1 / (T dt)) Σ_t log |R_t[i, i]|. The first `transient` steps align the frame and
    are not counted. Exponents are per step, or per time unit with `dt`.

    **Accuracy.** A finite-time estimate: the error decays like 1/sqrt(T) for chaotic orbits
    (for Lorenz-63, T = 20 000 steps at dt = 0.01 gives λ_1 within a few percent of 0.906).
    Exponents near 0 converge slowest.

    **Arguments:**

    - `step`: the model's map (JAX-traceable; an `eqx.Module` is fine). The state may be a
        PyTree; it is ravelled to N numbers.
    - `z0`: the initial state (run `transient` steps first, so any point of the basin works).
    - `T`: the number of steps averaged.
    - `k`: how many exponents (default all N).
    - `jacobian`: optional `J(z) -> (N, N)` on the ravelled state (e.g. a cell's analytic
        Jacobian); otherwise Jacobian-vector products of `step` are used (no N × N matrix).
    - `transient`: steps discarded first.
    - `dt`: the time per step (1 for maps).
    - `key`: PRNG key for the initial frame (default key 0).

    **Returns:**

    The exponents in descending order, a NumPy array `(k,)`.

    ```python
    lam = lyapunov_spectrum(lambda z: A @ z, jnp.ones(2), 1000)  # log |eig(A)|
    ```
    """
    flat0, unravel = ravel_pytree(z0)
    if not jnp.issubdtype(flat0.dtype, jnp.inexact):
        raise ValueError(f"z0 must be a floating-point state; got dtype {flat0.dtype}.")
    N = flat0.size
    k = N if k is None else k
    if not 1 <= k <= N or T < 1 or transient < 0:
        raise ValueError(f"need 1 <= k <= N={N}, T >= 1 and transient >= 0; got {k}, {T}.")
    f = lambda z: ravel_pytree(step(unravel(z)))[0]
    if jacobian is None:
        push = lambda z, Q: jax.vmap(lambda v: jax.jvp(f, (z,), (v,))[1], 1, 1)(Q)
    else:
        push = lambda z, Q: jacobian(z) @ Q

    def body(carry, _):
        z, Q = carry
        Q, R = jnp.linalg.qr(push(z, Q))
        return (f(z), Q), jnp.log(jnp.abs(jnp.diagonal(R)))

    @jax.jit
    def run(z, Q):
        (z, Q), _ = jax.lax.scan(body, (z, Q), None, length=transient)
        _, logs = jax.lax.scan(body, (z, Q), None, length=T)
        return logs.sum(axis=0)

    key = jax.random.key(0) if key is None else key
    Q0 = jnp.linalg.qr(jax.random.normal(key, (N, k), flat0.dtype))[0]
    lam = np.asarray(run(flat0, Q0), dtype=np.float64) / (T * dt)
    return np.sort(lam)[::-1]


def max_lyapunov_exponent(step: Callable[[PyTree], PyTree], z0: PyTree, T: int, **kwargs) -> float:
    """The largest Lyapunov exponent of `step`: [`lyapunov_spectrum`][] with `k=1`.

    Positive means chaos (a trained model of a chaotic system should roughly match the data's
    [`data_lyapunov_exponent`][]); negative means a stable fixed point or cycle in the limit.
    `T` steps are averaged (after `transient`, default 1 000); keyword arguments
    (`jacobian`, `transient`, `dt`, `key`) are passed on.
    """
    return float(lyapunov_spectrum(step, z0, T, k=1, **kwargs)[0])


def _mean_period(x: np.ndarray) -> float:
    """The mean period in steps, 1 / (power-weighted mean frequency), over all dimensions."""
    z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    ps = (np.abs(np.fft.rfft(z, axis=0)) ** 2).sum(axis=1)
    freqs = np.fft.rfftfreq(x.shape[0])
    return 1.0 / max(float((freqs[1:] * ps[1:]).sum() / ps[1:].sum()), 1.0 / x.shape[0])


def data_lyapunov_exponent(
    x: Float[ArrayLike, "T d"],
    dt: float = 1.0,
    *,
    horizon: int | None = None,
    theiler: int | None = None,
    fit_range: tuple[int, int] | None = None,
    embedding_dim: int | None = None,
    delay: int = 1,
    num_references: int = 2_000,
    return_curve: bool = False,
) -> float | tuple[float, np.ndarray]:
    """Estimate the largest Lyapunov exponent of a time series (Rosenstein et al. 1993).

    Each of `num_references` evenly spaced points gets its nearest neighbour in state space
    that is more than `theiler` steps away in time; the log distance of the two followers,
    averaged over pairs, grows like λ k dt for k = 0..`horizon` steps. λ is the least-squares
    slope over `fit_range`.

    **Accuracy.** Measured with the defaults: Lorenz-63 (true 0.906) 0.89 on the clean
    100 000-step benchmark test set, 0.86 on its first 20 000 steps, but 0.67 on the train set
    with 5 % observation noise; Rössler (true 0.071) 0.069-0.073. Noise raises the initial
    distances and biases λ low; short series and horizons past saturation (the attractor's
    size) do too. Check the fit with `return_curve=True`. Use it as a reference scale for a
    model's exponent, not as a precise value.

    **Arguments:**

    - `x`: the series `(T, d)` (or `(T,)`); all of `d` is the state, unless embedded.
    - `dt`: the time between samples (λ is per time unit; 1 gives per step).
    - `horizon`: steps followed (default: three mean periods; the mean period is
        1 / the power-weighted mean frequency).
    - `theiler`: temporal exclusion window in steps (default: one mean period).
    - `fit_range`: `(k0, k1)` steps of the curve to fit (default `(0, horizon)`).
    - `embedding_dim`, `delay`: build a delay embedding of all columns first.
    - `num_references`: reference points used (cost ~ num_references · theiler · log T).
    - `return_curve`: also return the mean log distance curve `(horizon + 1,)`.

    **Returns:**

    λ (and the curve when asked).

    **Raises:**

    `ValueError` for non-finite data or a series too short for the horizon.
    """
    x = _as_2d(x, "x")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or Inf.")
    if embedding_dim is not None:
        L = x.shape[0] - (embedding_dim - 1) * delay
        if embedding_dim < 1 or L < 2:
            raise ValueError(f"bad embedding_dim={embedding_dim}, delay={delay} for T={len(x)}.")
        x = np.concatenate([x[i * delay : i * delay + L] for i in range(embedding_dim)], axis=1)
    period = max(1, int(round(_mean_period(x))))
    horizon = 3 * period if horizon is None else horizon
    theiler = period if theiler is None else theiler
    k0, k1 = (0, horizon) if fit_range is None else fit_range
    if not 0 <= k0 < k1 <= horizon:
        raise ValueError(f"need 0 <= fit_range[0] < fit_range[1] <= horizon; got {(k0, k1)}.")
    M = x.shape[0] - horizon
    if M < 2 * theiler + 3:
        raise ValueError(
            f"series of {x.shape[0]} steps too short for horizon={horizon} and theiler={theiler}."
        )
    pts = x[:M]
    refs = np.unique(np.linspace(0, M - 1, min(num_references, M)).round().astype(int))
    dist, nbr = map(np.asarray, KDTree(pts).query(pts[refs], k=2 * theiler + 2))
    valid = (np.abs(nbr - refs[:, None]) > theiler) & (dist > 0) & (nbr < M)
    has = valid.any(axis=1)
    refs, j = refs[has], nbr[has, np.argmax(valid[has], axis=1)]
    steps = np.arange(horizon + 1)
    sep = np.linalg.norm(x[refs[:, None] + steps] - x[j[:, None] + steps], axis=2)
    with np.errstate(divide="ignore"):
        logs = np.log(sep)
    curve = np.array([col[np.isfinite(col)].mean() for col in logs.T])
    slope = np.polyfit(steps[k0 : k1 + 1], curve[k0 : k1 + 1], 1)[0] / dt
    return (float(slope), curve) if return_curve else float(slope)
