"""Atomic file writes: a temporary file in the same folder, flushed, then renamed into place."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a binary file that appears at `path` only once the `with` block has finished.

    The data goes to a temporary file `.NAME.*.tmp` in the same folder, which is flushed to
    disk and renamed over `path`: a crash leaves either the old file or the new one, never a
    partial one. If the block raises, the temporary file is removed and `path` is untouched.

    **Arguments:**

    - `path`: the file to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_open`)."""
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically (see `atomic_open`)."""
    atomic_write_bytes(path, text.encode())


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the `.*.tmp` files that an interrupted `atomic_open` left in `folder`.

    **Returns:**

    The removed paths.
    """
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed
