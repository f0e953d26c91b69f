"""Validation and preprocessing of (T, d) time series."""

import numpy as np
from jaxtyping import ArrayLike, Float, Shaped


def check_series(
    x: ArrayLike, *, name: str = "data", min_length: int | None = None
) -> Shaped[np.ndarray, "T d"]:
    """Check that `x` is a finite numeric time series of shape `(T, d)`.

    **Arguments:**

    - `x`: the series (NumPy or JAX array, or anything `numpy.asarray` accepts).
    - `name`: what to call it in error messages (e.g. the file name or the CLI option).
    - `min_length`: the fewest time steps needed, e.g. `seq_len + 1` for one training window.

    **Returns:**

    `x` as a NumPy array (not copied when it already is one).

    **Raises:**

    `ValueError` naming the problem: not numeric, not of rank 2, empty, NaN or Inf (with the
    first bad row and column, 0-based time-step and column indices, and how many rows are
    bad), or fewer than `min_length` steps.

    ```python
    x = check_series(np.load("series.npy"), name="series.npy", min_length=1001)
    ```
    """
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim != 2:
        hint = " Reshape a 1-D series with x[:, None]." if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must have shape (T, d) (rank 2: time steps × dimensions); got shape "
            f"{arr.shape} (rank {arr.ndim}).{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}; need T >= 1 and d >= 1.")
    if np.issubdtype(arr.dtype, np.inexact):
        bad = ~np.isfinite(arr)
        if bad.any():
            bad_rows = np.flatnonzero(bad.any(axis=1))
            row = int(bad_rows[0])
            col = int(np.flatnonzero(bad[row])[0])
            kind = "NaN" if np.isnan(arr[row, col]) else "Inf"
            raise ValueError(
                f"{name} contains {kind} at row {row} (column {col}); {len(bad_rows)} of "
                f"{arr.shape[0]} rows are non-finite. Clean or interpolate the data first."
            )
    if min_length is not None and arr.shape[0] < min_length:
        raise ValueError(
            f"{name} is too short: {arr.shape[0]} time steps, but at least {min_length} are "
            "needed (e.g. sequence length + 1). Use a shorter sequence length or more data."
        )
    return arr


def standardise(
    x: ArrayLike,
) -> tuple[Float[np.ndarray, "T d"], Float[np.ndarray, " d"], Float[np.ndarray, " d"]]:
    """Z-score each column: `z = (x - mean) / std`.

    **Arguments:**

    - `x`: a series of shape `(T, d)`.

    **Returns:**

    `(z, mean, std)`, with `mean` and `std` of shape `(d,)`, so that `x = z * std + mean`.
    A constant column gets `std = 1` (it is only centred), so `z` is always finite.

    **Raises:**

    `ValueError` if `x` is not a finite `(T, d)` series.
    """
    arr = check_series(x, name="x")
    mean = arr.mean(axis=0)
    std = arr.std(axis=0)
    std = np.where(std > 0, std, np.ones_like(std))
    return (arr - mean) / std, mean, std


def train_test_split(
    x: ArrayLike, test_fraction: float
) -> tuple[Shaped[np.ndarray, "T1 ..."], Shaped[np.ndarray, "T2 ..."]]:
    """Split a series in time: the test set is the last `test_fraction` of the steps.

    **Arguments:**

    - `x`: a series with time on the leading axis.
    - `test_fraction`: in (0, 1); the test part has `round(T * test_fraction)` steps.

    **Returns:**

    `(train, test)`, contiguous and not shuffled (views of `x` when it is a NumPy array).

    **Raises:**

    `ValueError` if `test_fraction` is not in (0, 1) or either part would be empty.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float | np.number):
        raise TypeError(f"test_fraction must be a number in (0, 1); got {test_fraction!r}.")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}.")
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError("x must have a leading time axis; got a scalar.")
    T = arr.shape[0]
    n_test = int(round(T * test_fraction))
    if n_test == 0 or n_test == T:
        raise ValueError(
            f"test_fraction={test_fraction} of {T} time steps leaves an empty train or test set."
        )
    return arr[: T - n_test], arr[T - n_test :]
