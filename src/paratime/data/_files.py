"""Reading (T, d) series from .npy / .csv / .txt files, and finding the shared benchmark."""

import os
from pathlib import Path

import numpy as np
from jaxtyping import Float

from ._validate import check_series

LORENZ63_TRAIN = "lorenz63_on0.05_train.npy"
LORENZ63_TEST = "lorenz63_test.npy"


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


def _candidates(filename: str) -> list[Path]:
    out = []
    env = os.environ.get("PARATIME_DATA")
    if env:
        out += [Path(env) / "lorenz63" / filename, Path(env) / filename]
    out.append(Path.cwd().parent / "shared" / "data" / "lorenz63" / filename)
    repo = Path(__file__).resolve().parents[3]
    out.append(repo.parent / "shared" / "data" / "lorenz63" / filename)
    return out


def find_shared(filename: str) -> Path:
    """Locate a file of the shared Lorenz-63 benchmark.

    Looks in `$PARATIME_DATA/lorenz63/`, `$PARATIME_DATA/`, `../shared/data/lorenz63/`
    relative to the working directory, and the same relative to the repository.

    **Raises:**

    `FileNotFoundError` listing the places searched.
    """
    tried = _candidates(filename)
    for p in tried:
        if p.is_file():
            return p
    places = "\n  ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"{filename} not found; searched:\n  {places}\nSet PARATIME_DATA to the folder that "
        "holds it, or generate similar data with "
        "paratime.data.lorenz63(100_000, standardise=True, noise=0.05)."
    )
