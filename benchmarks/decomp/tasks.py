"""The two tasks of the decomposition evidence (docs/decomp.md): Lorenz-63 one-step
prediction and a long-memory recall."""

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"`{name}` must be a positive int; got {value!r}.")


def lorenz_one_step(
    batch: int, length: int, *, start: int = 0, path: str | os.PathLike | None = None
) -> tuple[Float[Array, "B T 3"], Float[Array, "B T 3"]]:
    """One-step prediction on the Lorenz-63 benchmark (`x_t → x_{t+1}`).

    Takes the benchmark's training part (standardised, 5 % noise): `paratime.data.lorenz63_train()`
    (generated and cached, no files needed), or the file `lorenz63_on0.05_train.npy` in the
    folder `path` when given, and cuts `batch` consecutive pieces of `length + 1` points from
    `start`.

    **Raises:**

    `FileNotFoundError` if `path` is given and holds no such file.
    """
    _check_counts(batch=batch, length=length)
    if isinstance(start, bool) or not isinstance(start, int | np.integer) or start < 0:
        raise ValueError(f"`start` must be an int >= 0; got {start!r}.")
    from paratime.data import lorenz63_train

    if path is None:
        data = lorenz63_train().astype(np.float64)
    else:
        data = np.load(Path(path) / "lorenz63_on0.05_train.npy").astype(np.float64)
    need = start + batch * length + 1
    if need > data.shape[0]:
        raise ValueError(f"`start + batch * length + 1` = {need} exceeds {data.shape[0]}.")
    u = data[start:need]
    xs = u[:-1].reshape(batch, length, 3)
    ys = u[1:].reshape(batch, length, 3)
    dtype = jnp.zeros(()).dtype
    return jnp.asarray(xs, dtype), jnp.asarray(ys, dtype)


def recall_task(
    key: PRNGKeyArray, batch: int, length: int, *, noise: float = 0.5
) -> tuple[Float[Array, "B T 2"], Float[Array, "B T 1"]]:
    """A long-memory task: remember the sign shown at t = 0 for the whole sequence.

    Input channel 0 holds a cue c = ±1 at t = 0 and zeros afterwards; channel 1 is Gaussian
    noise of standard deviation `noise` (a distractor). The target at every step is c, so
    the answer in window k depends on an input k windows back. A model without memory
    reaches a loss of about 1 after the first step; one that keeps the cue reaches 0.
    """
    _check_counts(batch=batch, length=length)
    if not (isinstance(noise, int | float) and noise >= 0 and np.isfinite(noise)):
        raise ValueError(f"`noise` must be a finite number >= 0; got {noise!r}.")
    kc, kn = jax.random.split(key)
    dtype = jnp.zeros(()).dtype
    cue = jnp.where(jax.random.bernoulli(kc, 0.5, (batch,)), 1.0, -1.0).astype(dtype)
    channel0 = jnp.zeros((batch, length), dtype).at[:, 0].set(cue)
    channel1 = noise * jax.random.normal(kn, (batch, length), dtype)
    xs = jnp.stack([channel0, channel1], axis=-1)
    ys = jnp.broadcast_to(cue[:, None, None], (batch, length, 1))
    return xs, ys
