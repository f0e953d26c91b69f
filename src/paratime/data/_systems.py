"""Chaotic ODE benchmarks: Lorenz-63, Lorenz-96 and Rössler, sampled with RK4."""

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._finish import as_key, check_length, finish
from ._integrate import integrate

FloatLike = float | Float[Array, ""]  # a Python float, or a traced JAX scalar


def lorenz63_vector_field(
    x: Float[ArrayLike, "3"],
    sigma: FloatLike = 10.0,
    rho: FloatLike = 28.0,
    beta: FloatLike = 8.0 / 3.0,
) -> Float[Array, "3"]:
    """The Lorenz (1963) system: (σ(y − x), x(ρ − z) − y, xy − βz)."""
    x = jnp.asarray(x)
    return jnp.stack([sigma * (x[1] - x[0]), x[0] * (rho - x[2]) - x[1], x[0] * x[1] - beta * x[2]])


def lorenz96_vector_field(x: Float[ArrayLike, " n"], F: FloatLike = 8.0) -> Float[Array, " n"]:
    """The Lorenz (1996) system: dx_i/dt = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F, cyclic."""
    x = jnp.asarray(x)
    return (jnp.roll(x, -1) - jnp.roll(x, 2)) * jnp.roll(x, 1) - x + F


def rossler_vector_field(
    x: Float[ArrayLike, "3"], a: FloatLike = 0.2, b: FloatLike = 0.2, c: FloatLike = 5.7
) -> Float[Array, "3"]:
    """The Rössler (1976) system: (−y − z, x + ay, b + z(x − c))."""
    x = jnp.asarray(x)
    return jnp.stack([-x[1] - x[2], x[0] + a * x[1], b + x[2] * (x[0] - c)])


def _initial(
    x0: ArrayLike | Sequence[float] | None, default: Array, scale: float, key: PRNGKeyArray, d: int
):
    if x0 is None:
        return default + scale * jax.random.normal(key, (d,), dtype=default.dtype)
    x0 = jnp.asarray(x0, dtype=default.dtype)
    if x0.shape != (d,):
        raise ValueError(f"x0 must have shape ({d},); got {x0.shape}.")
    if not bool(jnp.all(jnp.isfinite(x0))):
        raise ValueError(f"x0 must be finite; got {x0}.")
    return x0


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check(dt: float, substeps: int, burn_in: int, **params: float) -> None:
    if not (isinstance(dt, int | float | np.number) and 0 < dt < math.inf):
        raise ValueError(f"dt must be > 0 and finite; got {dt!r}.")
    if not _is_int(substeps) or substeps < 1:
        raise ValueError(f"substeps must be an int >= 1; got {substeps!r}.")
    if not _is_int(burn_in) or burn_in < 0:
        raise ValueError(f"burn_in must be an int >= 0; got {burn_in!r}.")
    for name, value in params.items():
        if not (isinstance(value, int | float | np.number) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number; got {value!r}.")


def _float():
    return jnp.result_type(float)


def lorenz63(
    T: int,
    *,
    dt: float = 0.01,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    x0: ArrayLike | Sequence[float] | None = None,
    burn_in: int = 1000,
    substeps: int = 1,
    standardise: bool = False,
    noise: float = 0.0,
    key: PRNGKeyArray | int | None = None,
) -> Float[np.ndarray, "T 3"]:
    """A Lorenz-63 trajectory, sampled every `dt` (RK4 with step `dt / substeps`).

    **Arguments:**

    - `T`: number of samples.
    - `dt`: sampling interval (0.01 as in the reconstruction benchmarks).
    - `sigma`, `rho`, `beta`: the parameters (the classic chaotic 10, 28, 8/3).
    - `x0`: initial state `(3,)`; default (1, 1, 1) plus 0.1·N(0, 1) noise from `key`.
    - `burn_in`: samples discarded first, so the trajectory starts on the attractor.
    - `substeps`: RK4 steps per sample.
    - `standardise`: z-score each dimension (as the shared benchmark data).
    - `noise`: observation noise std, relative to each dimension's std (0.05 = "5 %").
    - `key`: PRNG key or int seed for x0 and the noise; `None` means seed 0 (reproducible).

    **Returns:**

    A float32 NumPy array of shape `(T, 3)`.

    **Raises:**

    `ValueError` for a non-positive `T` or `dt`, a wrong `x0` shape, or a blow-up.

    ```python
    x = lorenz63(100_000, standardise=True, noise=0.05)  # like lorenz63_on0.05_train.npy
    ```
    """
    check_length(T)
    _check(dt, substeps, burn_in, sigma=sigma, rho=rho, beta=beta)
    k0, k1 = jax.random.split(as_key(key))
    init = _initial(x0, jnp.ones(3, _float()), 0.1, k0, 3)
    xs = integrate(
        lorenz63_vector_field,
        init,
        T,
        dt,
        substeps=substeps,
        burn_in=burn_in,
        args=(sigma, rho, beta),
    )
    return finish(xs, standardise=standardise, noise=noise, key=k1)


def lorenz96(
    T: int,
    *,
    n: int = 20,
    F: float = 8.0,
    dt: float = 0.01,
    x0: ArrayLike | Sequence[float] | None = None,
    burn_in: int = 2000,
    substeps: int = 1,
    standardise: bool = False,
    noise: float = 0.0,
    key: PRNGKeyArray | int | None = None,
) -> Float[np.ndarray, "T n"]:
    """A Lorenz-96 trajectory with `n` sites and forcing `F` (chaotic for F = 8, n ≥ 5).

    **Arguments:**

    - `T`: number of samples; `n`: number of sites (≥ 4); `F`: the forcing.
    - `x0`: initial state `(n,)`; default F plus 0.01·N(0, 1) noise from `key`.
    - `dt`, `burn_in`, `substeps`, `standardise`, `noise`, `key`: as in
        [`lorenz63`][paratime.data.lorenz63].

    **Returns:**

    A float32 NumPy array of shape `(T, n)`.

    **Raises:**

    `ValueError` for `n < 4` or the conditions of `lorenz63`.
    """
    check_length(T)
    _check(dt, substeps, burn_in, F=F)
    if n < 4:
        raise ValueError(f"n must be >= 4 for Lorenz-96; got {n}.")
    k0, k1 = jax.random.split(as_key(key))
    init = _initial(x0, jnp.full(n, F, _float()), 0.01, k0, n)
    xs = integrate(
        lorenz96_vector_field, init, T, dt, substeps=substeps, burn_in=burn_in, args=(F,)
    )
    return finish(xs, standardise=standardise, noise=noise, key=k1)


def rossler(
    T: int,
    *,
    dt: float = 0.05,
    a: float = 0.2,
    b: float = 0.2,
    c: float = 5.7,
    x0: ArrayLike | Sequence[float] | None = None,
    burn_in: int = 2000,
    substeps: int = 1,
    standardise: bool = False,
    noise: float = 0.0,
    key: PRNGKeyArray | int | None = None,
) -> Float[np.ndarray, "T 3"]:
    """A Rössler trajectory (the classic chaotic a = b = 0.2, c = 5.7), sampled every `dt`.

    **Arguments:**

    - `T`: number of samples; `a`, `b`, `c`: the parameters.
    - `x0`: initial state `(3,)`; default (1, 1, 1) plus 0.1·N(0, 1) noise from `key`.
    - `dt`, `burn_in`, `substeps`, `standardise`, `noise`, `key`: as in
        [`lorenz63`][paratime.data.lorenz63] (one orbit takes about 6 time units).

    **Returns:**

    A float32 NumPy array of shape `(T, 3)`.
    """
    check_length(T)
    _check(dt, substeps, burn_in, a=a, b=b, c=c)
    k0, k1 = jax.random.split(as_key(key))
    init = _initial(x0, jnp.ones(3, _float()), 0.1, k0, 3)
    xs = integrate(
        rossler_vector_field, init, T, dt, substeps=substeps, burn_in=burn_in, args=(a, b, c)
    )
    return finish(xs, standardise=standardise, noise=noise, key=k1)
