"""Reading (T, d) series from .npy / .csv / .txt files."""

import os
from pathlib import Path

import numpy as np
from jaxtyping import Float

from ._validate import check_series


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _read_text(path: Path, delimiter: str | None) -> np.ndarray:
    with path.open() as f:
        first = f.readline()
    fields = [s.strip() for s in first.split(delimiter)]
    header = any(s and not _is_number(s) for s in fields)
    # genfromtxt turns empty / unparsable cells into NaN, which check_series then reports by row.
    return np.genfromtxt(
        path, delimiter=delimiter, skip_header=int(header), dtype=np.float64, ndmin=2
    )


def read_series(path: str | os.PathLike, *, check: bool = True) -> Float[np.ndarray, "T d"]:
    """Read a series from `.npy`, `.csv` (comma-separated) or `.txt`/`.dat` (whitespace).

    A first line with a non-numeric field is taken as a header and skipped. A 1-D array
    becomes `(T, 1)`. The result is float32.

    **Raises:**

    `FileNotFoundError` if the file does not exist; `ValueError` for an unknown extension,
    or (with `check=True`) a wrong rank or NaN/Inf, naming the first bad row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        arr = _read_text(path, ",")
    elif suffix in (".txt", ".dat"):
        arr = _read_text(path, None)
    else:
        raise ValueError(f"unsupported data file type {suffix!r} ({path}); use .npy, .csv or .txt.")
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr[:, None]
    if check:
        check_series(arr, name=str(path))
    return arr.astype(np.float32)
