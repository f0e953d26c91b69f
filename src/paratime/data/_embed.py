"""Delay embedding of a scalar series, with the lag and the dimension chosen from the data.

The lag is the first local minimum of the average mutual information between x_t and
x_{t+τ} (Fraser and Swinney 1986); the dimension is the smallest at which the fraction of
false nearest neighbours falls below a threshold (Kennel, Brown and Abarbanel 1992).
"""

import math

import numpy as np
from jaxtyping import ArrayLike, Float
from scipy.spatial import KDTree


def _scalar(x: ArrayLike, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"`{name}` must be a scalar series, shape (T,) or (T, 1); got {arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` holds NaN or Inf; it must be finite.")
    return arr


def _positive(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}; got {value!r}.")
    return int(value)


def delay_embed(x: Float[ArrayLike, "T ..."], lag: int, dim: int) -> Float[np.ndarray, "N dim"]:
    """The delay vectors y_t = (x_t, x_{t−τ}, ..., x_{t−(m−1)τ}) of a scalar series.

    Row i is the vector at time t = i + (m − 1)τ, newest value first, so column 0 is the
    series itself from t = (m − 1)τ on, and the rows follow each other in time.

    **Arguments:**

    - `x`: the series, shape (T,) or (T, 1).
    - `lag`: τ, in steps (>= 1).
    - `dim`: m, the number of delays (>= 1).

    **Returns:**

    An array of shape (T − (m − 1)τ, m), the dtype of `x` (float64 for integers).

    **Raises:**

    `ValueError` naming the argument for a series that is not scalar or not finite, a bad
    `lag` or `dim`, or a series too short for them.

    ```python
    y = delay_embed(np.sin(0.1 * np.arange(1000)), lag=16, dim=2)  # (984, 2)
    ```
    """
    arr = np.asarray(x)
    values = _scalar(arr)
    lag, dim = _positive("lag", lag), _positive("dim", dim)
    n = values.shape[0] - (dim - 1) * lag
    if n < 2:
        raise ValueError(
            f"`x` has {values.shape[0]} steps, too short for dim={dim} delays of lag={lag}."
        )
    src = arr.reshape(-1) if np.issubdtype(arr.dtype, np.floating) else values
    return np.stack([src[(dim - 1 - k) * lag : (dim - 1 - k) * lag + n] for k in range(dim)], 1)


def mutual_information(
    x: Float[ArrayLike, "T ..."], max_lag: int, *, bins: int = 32
) -> Float[np.ndarray, " max_lag+1"]:
    """The average mutual information I(x_t; x_{t+τ}) for τ = 0, ..., `max_lag`, in nats.

    Estimated from a 2-D histogram with `bins` equal bins over the range of the series.

    **Raises:**

    `ValueError` for a bad series, `max_lag` or `bins`.
    """
    values = _scalar(x)
    max_lag, bins = _positive("max_lag", max_lag), _positive("bins", bins, 2)
    if values.shape[0] <= max_lag + 1:
        raise ValueError(f"`x` has {values.shape[0]} steps; `max_lag`={max_lag} needs more.")
    lo, hi = values.min(), values.max()
    if hi == lo:
        return np.zeros(max_lag + 1)
    idx = np.minimum(((values - lo) / (hi - lo) * bins).astype(np.int64), bins - 1)
    out = np.empty(max_lag + 1)
    for lag in range(max_lag + 1):
        a, b = idx[: idx.size - lag], idx[lag:]
        joint = np.bincount(a * bins + b, minlength=bins * bins).reshape(bins, bins) / a.size
        pa, pb = joint.sum(1), joint.sum(0)
        nz = joint > 0
        out[lag] = float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))
    return out


def choose_lag(x: Float[ArrayLike, "T ..."], *, max_lag: int = 100, bins: int = 32) -> int:
    """The delay τ: the first local minimum of the average mutual information.

    If the mutual information has no local minimum up to `max_lag`, the first lag at which
    it falls below 1/e of its value at lag 0 is used, and failing that `max_lag`.
    """
    mi = mutual_information(x, max_lag, bins=bins)
    for lag in range(1, max_lag):
        if mi[lag] < mi[lag - 1] and mi[lag] <= mi[lag + 1]:
            return lag
    below = np.nonzero(mi[1:] < mi[0] / math.e)[0]
    return int(below[0]) + 1 if below.size else max_lag


def false_nearest_neighbours(
    x: Float[ArrayLike, "T ..."],
    lag: int,
    max_dim: int = 10,
    *,
    rtol: float = 10.0,
    atol: float = 2.0,
    max_points: int = 5_000,
) -> Float[np.ndarray, " max_dim"]:
    """The fraction of false nearest neighbours in dimensions m = 1, ..., `max_dim`.

    For each of at most `max_points` evenly spaced delay vectors in dimension m, its nearest
    neighbour (another time) is false when adding the next delay separates them: the new
    coordinate differs by more than `rtol` times their distance, or their distance in m + 1
    dimensions exceeds `atol` times the series' standard deviation (Kennel et al. 1992).

    **Returns:**

    The fractions, shape (max_dim,): entry m − 1 is for dimension m.
    """
    values = _scalar(x)
    lag, max_dim = _positive("lag", lag), _positive("max_dim", max_dim)
    max_points = _positive("max_points", max_points, 2)
    sigma = float(values.std()) or 1.0
    out = np.empty(max_dim)
    for m in range(1, max_dim + 1):
        n = values.shape[0] - m * lag  # vectors that also have the (m+1)-th coordinate
        if n < 3:
            raise ValueError(
                f"`x` has {values.shape[0]} steps, too short for {max_dim + 1} delays of "
                f"lag={lag}; use a smaller max_dim."
            )
        emb = delay_embed(values[: n + (m - 1) * lag], lag, m)
        # Row i of `emb` is (x_{i+(m-1)τ}, ..., x_i); in dimension m + 1 it gains x_{i+mτ}.
        nxt = values[m * lag : m * lag + n]
        pts = np.unique(np.linspace(0, n - 1, min(max_points, n)).astype(int))
        dist, nbr = map(np.asarray, KDTree(emb).query(emb[pts], k=2))
        d, j = dist[:, 1], nbr[:, 1]
        gap = np.abs(nxt[pts] - nxt[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d > 0, gap / d, np.where(gap > 0, np.inf, 0.0))
        false = (ratio > rtol) | (np.sqrt(d**2 + gap**2) > atol * sigma)
        out[m - 1] = float(false.mean())
    return out


def choose_dimension(
    x: Float[ArrayLike, "T ..."], lag: int, *, max_dim: int = 10, threshold: float = 0.01, **kwargs
) -> int:
    """The embedding dimension: the smallest m whose fraction of false nearest neighbours is
    below `threshold` (`false_nearest_neighbours`; keyword arguments are passed on), or the
    m with the fewest if none is."""
    fractions = false_nearest_neighbours(x, lag, max_dim, **kwargs)
    below = np.nonzero(fractions < threshold)[0]
    return int(below[0]) + 1 if below.size else int(np.argmin(fractions)) + 1


def embed(
    x: Float[ArrayLike, "T ..."],
    *,
    lag: int | None = None,
    dim: int | None = None,
    max_lag: int = 100,
    max_dim: int = 10,
    threshold: float = 0.01,
) -> tuple[Float[np.ndarray, "N dim"], int, int]:
    """Delay-embed a scalar series, choosing the lag and the dimension where not given.

    τ from `choose_lag` (first minimum of the mutual information), then m from
    `choose_dimension` (false nearest neighbours below `threshold`).

    **Returns:**

    `(y, lag, dim)`: the delay vectors (`delay_embed`) and the τ and m used.

    ```python
    y, lag, dim = embed(paratime.data.santafe_laser())
    ```
    """
    lag = choose_lag(x, max_lag=max_lag) if lag is None else lag
    dim = choose_dimension(x, lag, max_dim=max_dim, threshold=threshold) if dim is None else dim
    return delay_embed(x, lag, dim), lag, dim
