"""The byte-level corpus: the Python standard library's own sources, or any folder or file."""

import dataclasses
import hashlib
import os
import sysconfig
from pathlib import Path

import numpy as np

STDLIB = "stdlib"
TEST_FRACTION = 0.1
_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__"}


def is_test_file(relative_path: str, test_fraction: float = TEST_FRACTION) -> bool:
    """Whether a file belongs to the held-out split.

    The split is fixed by the file's path relative to the corpus root (with `/` separators):
    the first 8 bytes of its SHA-256, read as a big-endian integer and divided by 2⁶⁴, below
    `test_fraction` means test. It does not depend on the machine, the file's contents or the
    set of other files, so a file is never in both splits.
    """
    digest = hashlib.sha256(relative_path.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A byte corpus split into training and held-out bytes.

    **Fields:**

    - `train`, `test`: the bytes (uint8 arrays) of the training and held-out files, each the
        files' contents concatenated in the order of their relative paths.
    - `train_files`, `test_files`: how many files each split holds (0 and 0 for a single file,
        which is split by position instead).
    - `source`: the corpus root.
    - `train_starts`, `test_starts`: the offsets at which each file after the first begins in
        `train` and `test` (int64, increasing; empty for a single file).
    """

    train: np.ndarray
    test: np.ndarray
    train_files: int
    test_files: int
    source: str
    train_starts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    test_starts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))


def _is_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


def _files(root: Path, suffixes: tuple[str, ...] | None) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in filenames:
            if suffixes is None or name.endswith(suffixes):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def load_corpus(
    source: str | os.PathLike = STDLIB, *, test_fraction: float = TEST_FRACTION
) -> Corpus:
    """Read a byte corpus and split it into training and held-out bytes.

    **Arguments:**

    - `source`: `"stdlib"` for the `.py` files under `sysconfig.get_paths()["stdlib"]`
        (without `site-packages`); a folder for all its text files (files with a NUL byte in
        their first 8 KiB are skipped as binary); or a single text file.
    - `test_fraction`: the share of files held out (see `is_test_file`). A single file is
        split by position instead: its last `test_fraction` of bytes are the test split.

    **Returns:**

    A `Corpus`.

    **Raises:**

    `ValueError` if the source does not exist, or if a split would be empty.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1); got {test_fraction!r}.")
    if str(source) == STDLIB:
        root, suffixes = Path(sysconfig.get_paths()["stdlib"]), (".py",)
    else:
        root, suffixes = Path(source), None
    if not root.exists():
        raise ValueError(f"`source` {str(source)!r} is neither 'stdlib' nor an existing path.")
    if root.is_file():
        data = np.frombuffer(root.read_bytes(), np.uint8)
        cut = int(round(len(data) * (1 - test_fraction)))
        train, test = data[:cut], data[cut:]
        counts = (0, 0)
        starts = {False: np.zeros(0, np.int64), True: np.zeros(0, np.int64)}
    else:
        parts: dict[bool, list[bytes]] = {False: [], True: []}
        for path in _files(root, suffixes):
            data = path.read_bytes()
            if _is_text(data):
                parts[is_test_file(path.relative_to(root).as_posix(), test_fraction)].append(data)
        train = np.frombuffer(b"".join(parts[False]), np.uint8)
        test = np.frombuffer(b"".join(parts[True]), np.uint8)
        counts = (len(parts[False]), len(parts[True]))
        starts = {k: np.cumsum([len(d) for d in v], dtype=np.int64)[:-1] for k, v in parts.items()}
    if len(train) < 2 or len(test) < 2:
        raise ValueError(
            f"`source` {str(source)!r} gives {len(train)} training and {len(test)} test bytes; "
            "both splits need at least 2 (use a larger folder or file)."
        )
    return Corpus(train, test, *counts, str(root), starts[False], starts[True])


def sample_windows(
    data: np.ndarray, batch: int, length: int, rng: np.random.Generator
) -> np.ndarray:
    """`batch` random windows of `length` consecutive bytes (int32, shape (batch, length))."""
    if len(data) < length:
        raise ValueError(f"the data hold {len(data)} bytes, fewer than a window of {length}.")
    starts = rng.integers(0, len(data) - length + 1, batch)
    return data[starts[:, None] + np.arange(length)].astype(np.int32)


def sample_windows_and_resets(
    data: np.ndarray, file_starts: np.ndarray, batch: int, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The windows of `sample_windows` (the same ones for the same `rng`) and where a file
    begins inside each: `resets[i, j]` is true when byte j of window i (j ≥ 1) is the first of
    a file (`file_starts`: the offsets of the files' first bytes in `data`)."""
    if len(data) < length:
        raise ValueError(f"the data hold {len(data)} bytes, fewer than a window of {length}.")
    starts = rng.integers(0, len(data) - length + 1, batch)
    return _windows_and_resets(data, file_starts, starts, length)


def _windows_and_resets(data, file_starts, starts, length):
    positions = starts[:, None] + np.arange(length)
    resets = np.isin(positions, file_starts)
    resets[:, 0] = False  # a window starts from the initial state anyway
    return data[positions].astype(np.int32), resets


def evaluation_windows(data: np.ndarray, count: int, length: int) -> np.ndarray:
    """`count` windows of `length` bytes at evenly spaced, fixed positions (int32)."""
    length = min(length, len(data))
    starts = np.linspace(0, len(data) - length, count).astype(np.int64)
    return data[starts[:, None] + np.arange(length)].astype(np.int32)


def evaluation_windows_and_resets(
    data: np.ndarray, file_starts: np.ndarray, count: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """The windows of `evaluation_windows` and their file boundaries (as in
    `sample_windows_and_resets`)."""
    length = min(length, len(data))
    starts = np.linspace(0, len(data) - length, count).astype(np.int64)
    return _windows_and_resets(data, file_starts, starts, length)
