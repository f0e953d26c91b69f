"""Atomic checkpoints: a JSON header and the serialised PyTree in one file, renamed into place."""

import json
import os
from typing import Any, TypeVar

import equinox as eqx
import jax

from ._atomic import atomic_open

_T = TypeVar("_T")
_MAGIC = b"PARATIME-CKPT-1\n"


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_raw(tree: Any) -> Any:
    """Typed PRNG keys become their raw uint32 data, which can be serialised."""
    return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _from_raw(raw: Any, like: Any) -> Any:
    def restore(r, l):
        return jax.random.wrap_key_data(r, impl=jax.random.key_impl(l)) if _is_key(l) else r

    return jax.tree_util.tree_map(restore, raw, like)


def save_checkpoint(path: str | os.PathLike, state: Any, *, step: int, **extra: Any) -> None:
    """Write `state` (any PyTree of arrays) and `step` to `path` atomically.

    The file is written to a temporary name in the same folder, flushed to disk, and then
    renamed over `path`, so a crash leaves either the old checkpoint or the new one, never a
    partial file.

    **Arguments:**

    - `path`: the checkpoint file.
    - `state`: the PyTree to save (model, optimiser state, keys, ...).
    - `step`: the number of completed steps.
    - `**extra`: JSON-serialisable metadata stored alongside.
    """
    header = json.dumps({"step": int(step), "extra": extra}).encode() + b"\n"
    with atomic_open(path) as f:
        f.write(_MAGIC)
        f.write(header)
        eqx.tree_serialise_leaves(f, _to_raw(state))


def load_checkpoint(path: str | os.PathLike, like: _T) -> tuple[_T, int, dict[str, Any]]:
    """Read a checkpoint written by `save_checkpoint`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a PyTree with the same structure, shapes and dtypes as the saved state.

    **Returns:**

    `(state, step, extra)`.

    **Raises:**

    `ValueError` if the file is not a paratime checkpoint.
    """
    with open(path, "rb") as f:
        if f.readline() != _MAGIC:
            raise ValueError(f"`path` {str(path)!r} is not a paratime checkpoint.")
        header = json.loads(f.readline())
        state = _from_raw(eqx.tree_deserialise_leaves(f, _to_raw(like)), like)
    return state, int(header["step"]), dict(header["extra"])
