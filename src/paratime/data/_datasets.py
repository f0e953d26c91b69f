"""Named datasets that load offline, and `load_series` for names or paths."""

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from jaxtyping import Float

from ._benchmark import lorenz63_benchmark
from ._delay import mackey_glass
from ._files import read_series
from ._slow_fast import slow_fast_test, slow_fast_train


def _statsmodels():
    from .._extras import require

    return require("statsmodels.api", "This dataset").datasets


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1).astype(np.float32)


def lorenz63_train() -> Float[np.ndarray, "100000 3"]:
    """The Lorenz-63 benchmark, training part: 100 000 × 3 samples at dt = 0.01, each column
    standardised, with 5 % Gaussian observation noise. Generated from a fixed seed on first
    use and cached (see `paratime.data.cache_dir`); no download, no files needed."""
    return lorenz63_benchmark("train")


def lorenz63_test() -> Float[np.ndarray, "100000 3"]:
    """The Lorenz-63 benchmark, test part: a separate noise-free trajectory of 100 000 × 3
    samples at dt = 0.01, each column standardised. Generated and cached like the training
    part."""
    return lorenz63_benchmark("test")


def santafe_laser() -> Float[np.ndarray, "T 1"]:
    """The Santa Fe competition A laser series (10 093 steps), shipped with reservoirpy."""
    from .._extras import require

    _laser = require("reservoirpy.datasets", "The Santa Fe laser dataset").santafe_laser
    return _column(_laser())


def sunspots() -> Float[np.ndarray, "T 1"]:
    """Yearly sunspot activity 1700-2008 (statsmodels)."""
    return _column(_statsmodels().sunspots.load_pandas().data["SUNACTIVITY"])


def co2() -> Float[np.ndarray, "T 1"]:
    """Weekly Mauna Loa CO2 (ppm), 1958-2001 (statsmodels).

    The 59 missing weeks are filled by linear interpolation in time (the ends, if missing,
    take the nearest value), so the series is finite and evenly spaced.
    """
    x = np.asarray(_statsmodels().co2.load_pandas().data["co2"], dtype=np.float64)
    ok = np.isfinite(x)
    t = np.arange(len(x))
    x = np.interp(t, t[ok], x[ok])
    return _column(x)


def nile() -> Float[np.ndarray, "T 1"]:
    """Yearly Nile flow volume at Aswan, 1871-1970 (statsmodels)."""
    return _column(_statsmodels().nile.load_pandas().data["volume"])


def elnino() -> Float[np.ndarray, "T 1"]:
    """Monthly El Niño sea-surface temperature, 1950-2010, as one series (statsmodels)."""
    data = _statsmodels().elnino.load_pandas().data
    return _column(data.drop(columns="YEAR").to_numpy().ravel())


DATASETS: dict[str, Callable[[], np.ndarray]] = {
    "lorenz63": lorenz63_train,
    "lorenz63-test": lorenz63_test,
    "lorenz63-x": lambda: lorenz63_train()[:, :1],
    "santafe": santafe_laser,
    "mackey-glass": lambda: mackey_glass(10_000),
    "slow-fast": slow_fast_train,
    "slow-fast-test": slow_fast_test,
    "sunspots": sunspots,
    "co2": co2,
    "nile": nile,
    "elnino": elnino,
}
"""Names accepted by [`load_series`][paratime.data.load_series], each a zero-argument loader
returning a float32 `(T, d)` array. `lorenz63*` are generated from fixed seeds on first use
and cached in `cache_dir()` (`lorenz63_train`, `lorenz63_test`; `lorenz63-x` is the
training part's x column); `mackey-glass` is generated (10 000 samples, τ = 17), and so are
`slow-fast` / `slow-fast-test` (`slow_fast_lorenz`: 100 000 samples each, a Lorenz-63
whose ρ follows a slow oscillator of period 10 000 samples); the rest ship with
reservoirpy or statsmodels. All load offline."""


def load_series(path_or_name: str | os.PathLike) -> Float[np.ndarray, "T d"]:
    """Load a series by dataset name (a key of `DATASETS`) or from a `.npy`/`.csv`/`.txt` file.

    **Arguments:**

    - `path_or_name`: e.g. `"lorenz63"`, `"lorenz63-test"`, `"santafe"`, `"sunspots"`, or a
        path. Files hold one row per time step; a 1-D array becomes `(T, 1)`; a CSV may have
        one header line.

    **Returns:**

    A finite float32 NumPy array of shape `(T, d)`.

    **Raises:**

    `FileNotFoundError` for a missing file, `ValueError` for
    an unknown name or extension, a wrong rank, or NaN/Inf (naming the first bad row).

    ```python
    x = load_series("lorenz63")            # (100000, 3)
    y = load_series("my_series.csv")       # (T, d)
    ```
    """
    if isinstance(path_or_name, str) and path_or_name in DATASETS:
        return DATASETS[path_or_name]()
    path = Path(path_or_name)
    if path.suffix == "" and not path.exists():
        names = ", ".join(sorted(DATASETS))
        raise ValueError(
            f"unknown dataset {str(path_or_name)!r}: not a file and not one of: {names}."
        )
    return read_series(path)


load = load_series
