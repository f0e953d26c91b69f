"""Datasets of several trajectories: loading them, and training windows that never cross
from one trajectory into the next."""

import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ..data import check_series


def as_trajectories(
    data: Float[ArrayLike, "T d"] | Sequence[Float[ArrayLike, "T d"]],
    *,
    name: str = "`data`",
) -> list[np.ndarray]:
    """A list of checked (T_i, d) series from one series or a list/tuple of them.

    **Arguments:**

    - `data`: one array (T, d), or a list or tuple of arrays (T_i, d) of equal d.
    - `name`: what to call `data` in errors.

    **Returns:**

    A non-empty list of NumPy arrays.

    **Raises:**

    `ValueError` naming `data` (and the trajectory's index) for an empty list, a bad series or
    trajectories of different dimensions.
    """
    if isinstance(data, list | tuple):
        if not data:
            raise ValueError(f"{name} is an empty list; give at least one trajectory.")
        out = [check_series(np.asarray(x), name=f"{name}[{i}]") for i, x in enumerate(data)]
    else:
        out = [check_series(np.asarray(data), name=name)]
    dims = {x.shape[1] for x in out}
    if len(dims) > 1:
        sizes = [x.shape[1] for x in out]
        raise ValueError(f"the trajectories of {name} have different dimensions {sizes}.")
    return out


def window_starts(lengths: Sequence[int], seq_len: int) -> np.ndarray:
    """The start indices, in the concatenation of trajectories of these `lengths`, of every
    window of `seq_len` steps that lies inside one trajectory.

    **Raises:**

    `ValueError` if no trajectory holds a whole window.
    """
    starts, offset = [], 0
    for n in lengths:
        if n >= seq_len:
            starts.append(np.arange(offset, offset + n - seq_len + 1))
        offset += n
    if not starts:
        raise ValueError(
            f"no trajectory is as long as `seq_len`={seq_len} (the longest has {max(lengths)} "
            "steps); use a shorter --seq-len."
        )
    return np.concatenate(starts).astype(np.int32)


def sample_windows_from(
    key: PRNGKeyArray,
    data: Float[Array, "T d"],
    starts: Int[Array, " S"],
    seq_len: int,
    batch_size: int,
) -> Float[Array, "B L d"]:
    """`batch_size` windows of `seq_len` steps drawn uniformly from the allowed `starts`
    (`window_starts`) of a concatenation of trajectories."""
    pick = jax.random.randint(key, (batch_size,), 0, starts.shape[0])
    first = jnp.asarray(starts)[pick]
    return jax.vmap(lambda s: jax.lax.dynamic_slice_in_dim(data, s, seq_len))(first)


def load_trajectories(source: str | os.PathLike) -> list[np.ndarray] | None:
    """The trajectories of a `.npz` file (its arrays, in stored order) or a folder of `.npy`
    files (sorted by name); `None` for any other source (a single series).

    **Raises:**

    `ValueError` naming the file for an empty archive or folder, or a bad array.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise ValueError(f"the folder {str(path)!r} holds no .npy files.")
        return [check_series(np.load(f), name=f.name) for f in files]
    if path.suffix == ".npz" and path.is_file():
        with np.load(path) as archive:
            if not archive.files:
                raise ValueError(f"{str(path)!r} holds no arrays.")
            return [check_series(archive[k], name=f"{path.name}[{k!r}]") for k in archive.files]
    return None
