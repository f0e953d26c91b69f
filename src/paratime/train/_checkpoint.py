"""Verified checkpoints: a JSON header with a SHA-256 of the serialised PyTree, then the PyTree.

File layout (version 2):

```
PARATIME-CKPT-2\\n
{"step": 7, "extra": {...}, "size": <payload bytes>}\\n
sha256:<hex digest of the header line, a newline and the payload>\\n
<payload: equinox.tree_serialise_leaves>
```

Files of version 1 (no size, no checksum) still load.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ._atomic import atomic_open

_T = TypeVar("_T")
_PREFIX = b"PARATIME-CKPT-"
_MAGIC_V1 = b"PARATIME-CKPT-1\n"
_MAGIC = b"PARATIME-CKPT-2\n"


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupted, or not a paratime checkpoint.

    The message names the file, what is wrong with it, and (when there is one) the earlier
    checkpoint to use instead. `path` is the refused file.
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        prev = previous_path(self.path)
        if prev.exists():
            hint = f" The previous checkpoint {str(prev)!r} may still be intact; load that one."
        else:
            hint = " There is no earlier checkpoint next to it; start a fresh run."
        super().__init__(f"checkpoint {str(self.path)!r} {problem}.{hint}")


def previous_path(path: str | os.PathLike) -> Path:
    """Where the checkpoint before `path` is kept: `checkpoint.eqx` -> `checkpoint.prev.eqx`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_raw(tree: Any) -> Any:
    """Typed PRNG keys become their raw uint32 data, which can be serialised."""
    return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _from_raw(raw: Any, like: Any) -> Any:
    def restore(r, l):
        return jax.random.wrap_key_data(r, impl=jax.random.key_impl(l)) if _is_key(l) else r

    return jax.tree_util.tree_map(restore, raw, like)


def _digest(header_line: bytes, payload: bytes) -> str:
    return hashlib.sha256(header_line + b"\n" + payload).hexdigest()


def _encode(state: Any, step: int, extra: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, _to_raw(state))
    payload = buf.getvalue()
    line = json.dumps({"step": step, "extra": extra, "size": len(payload)}).encode()
    return _MAGIC + line + b"\nsha256:" + _digest(line, payload).encode() + b"\n" + payload


def _decode(path: Path, data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split and verify a checkpoint file's bytes; raise `CheckpointError` naming the fault."""
    first, sep, rest = data.partition(b"\n")
    magic = first + sep
    if magic not in (_MAGIC, _MAGIC_V1):
        if not data:
            raise CheckpointError(path, "is empty (0 bytes)")
        version = first[len(_PREFIX) :]
        if first.startswith(_PREFIX) and version.isdigit() and sep:
            raise CheckpointError(
                path,
                f"has format version {version.decode()}, which this paratime cannot read "
                "(written by a newer version?)",
            )
        raise CheckpointError(path, "is not a paratime checkpoint (its first line is wrong)")
    line, sep, rest = rest.partition(b"\n")
    if magic == _MAGIC:
        digest, sep2, payload = rest.partition(b"\n")
        sep = sep and sep2 and digest.startswith(b"sha256:")
    else:
        digest, payload = b"", rest
    try:
        header = json.loads(line) if sep else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    required = ("step", "extra") if magic == _MAGIC_V1 else ("step", "extra", "size")
    if not isinstance(header, dict) or any(k not in header for k in required):
        raise CheckpointError(path, "has a corrupt header (truncated or damaged)")
    if magic == _MAGIC:
        size = header["size"]
        if isinstance(size, int) and len(payload) < size:
            raise CheckpointError(
                path, f"is truncated: {len(payload)} of {size} payload bytes are present"
            )
        if isinstance(size, int) and len(payload) > size:
            raise CheckpointError(
                path, f"has {len(payload) - size} unexpected bytes after its {size}-byte payload"
            )
        if digest[len(b"sha256:") :] != _digest(line, payload).encode():
            raise CheckpointError(
                path, "is corrupted: its content does not match the SHA-256 in its header"
            )
    step = header["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(path, f"has a corrupt header (step {step!r})")
    return header, payload


def verify_checkpoint(path: str | os.PathLike) -> int:
    """Check a checkpoint's header and checksum without loading it.

    **Arguments:**

    - `path`: the checkpoint file.

    **Returns:**

    The step stored in it.

    **Raises:**

    `FileNotFoundError` if it does not exist; `CheckpointError` (a `ValueError`) if it is
    truncated, corrupted or not a checkpoint.
    """
    path = Path(path)
    header, _ = _decode(path, path.read_bytes())
    return int(header["step"])


def _keep_previous(path: Path) -> None:
    """Copy `path` to `previous_path(path)` atomically (a hard link when the file system allows)."""
    prev = previous_path(path)
    if prev.exists() and os.path.samefile(prev, path):
        return  # already kept (a write after the last keep was interrupted)
    tmp = prev.with_name(f".{prev.name}.link.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(path, tmp)
        os.replace(tmp, prev)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        with open(path, "rb") as src, atomic_open(prev) as dst:
            shutil.copyfileobj(src, dst)


def save_checkpoint(
    path: str | os.PathLike, state: Any, *, step: int, keep_previous: bool = False, **extra: Any
) -> None:
    """Write `state` (any PyTree of arrays) and `step` to `path` atomically, then verify it.

    The file is written to a temporary name in the same folder, flushed to disk, and renamed
    over `path`, so a crash leaves either the old checkpoint or the new one, never a partial
    file. A SHA-256 of the header and the content is stored after the header; after the
    rename the file is read back and checked.

    **Arguments:**

    - `path`: the checkpoint file.
    - `state`: the PyTree to save (model, optimiser state, keys, ...).
    - `step`: the number of completed steps (an int >= 0).
    - `keep_previous`: first keep the existing checkpoint at `path` (if any) as
        `previous_path(path)` (e.g. `checkpoint.prev.eqx`), to fall back on.
    - `**extra`: JSON-serialisable metadata stored alongside.

    **Raises:**

    `TypeError`/`ValueError` for a bad `step` or `extra`; `CheckpointError` if the written
    file does not read back intact (a failing disk).
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"`step` must be an int >= 0; got {step!r}.")
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as e:
        raise TypeError(f"`extra` metadata must be JSON-serialisable: {e}") from e
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"`path` {str(path)!r} is a folder; give a file name, e.g. "
            f"{str(path / 'checkpoint.eqx')!r}."
        )
    data = _encode(state, int(step), extra)
    if keep_previous and path.exists():
        _keep_previous(path)
    with atomic_open(path) as f:
        f.write(data)
    if path.read_bytes() != data:
        raise CheckpointError(path, "did not read back as written (disk or file-system fault)")


def load_checkpoint(path: str | os.PathLike, like: _T) -> tuple[_T, int, dict[str, Any]]:
    """Read and verify a checkpoint written by `save_checkpoint`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a PyTree with the same structure, shapes and dtypes as the saved state.

    **Returns:**

    `(state, step, extra)`.

    **Raises:**

    `FileNotFoundError` if `path` does not exist. `CheckpointError` (a `ValueError`) if the
    file is not a paratime checkpoint, is truncated, or its content does not match its
    checksum; the message names the earlier checkpoint to use. `ValueError` naming `like` if
    the saved state does not fit the template.
    """
    if not jax.tree_util.tree_leaves(like):
        raise ValueError(
            "`like` must be the template PyTree (same structure, shapes and dtypes as the "
            f"saved state, e.g. the freshly initialised state); got {like!r}."
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}.")
    header, payload = _decode(path, path.read_bytes())
    buf = io.BytesIO(payload)
    try:
        raw = eqx.tree_deserialise_leaves(buf, _to_raw(like))
    except Exception as e:
        if "size" not in header:  # version 1: no checksum, so it may be damage
            raise CheckpointError(path, f"could not be read ({type(e).__name__}: {e})") from e
        raise ValueError(
            f"checkpoint {str(path)!r} is intact but does not fit the template `like` (in "
            "`train`, the initial `state`): a different model, "
            f"optimiser or sizes than the run that wrote it? {type(e).__name__}: {e}"
        ) from e
    if buf.read(1):
        raise ValueError(
            f"checkpoint {str(path)!r} holds more arrays than `like` has leaves (a different "
            "model, optimiser or sizes than the run that wrote it?)."
        )
    return _from_raw(raw, like), int(header["step"]), dict(header["extra"])
