"""A slow–fast benchmark: Lorenz-63 whose ρ is driven by a slow harmonic oscillator."""

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._finish import as_key, check_length, finish
from ._integrate import integrate
from ._systems import FloatLike, _check, _float, _initial, _is_int


def slow_fast_lorenz_vector_field(
    s: Float[ArrayLike, "5"],
    rho_mean: FloatLike = 28.0,
    rho_amplitude: FloatLike = 10.0,
    omega: FloatLike = 2 * math.pi / 100.0,
    sigma: FloatLike = 10.0,
    beta: FloatLike = 8.0 / 3.0,
) -> Float[Array, "5"]:
    """Lorenz-63 with ρ = ρ̄ + Δρ·u, where (u, v) is a harmonic oscillator of frequency ω.

    The state is (x, y, z, u, v):
    ẋ = σ(y − x), ẏ = x(ρ̄ + Δρ·u − z) − y, ż = xy − βz, u̇ = ωv, v̇ = −ωu.
    """
    s = jnp.asarray(s)
    x, y, z, u, v = s[0], s[1], s[2], s[3], s[4]
    rho = rho_mean + rho_amplitude * u
    return jnp.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z, omega * v, -omega * u])


def slow_fast_lorenz(
    T: int,
    *,
    dt: float = 0.01,
    period: int = 10_000,
    rho_mean: float = 28.0,
    rho_amplitude: float = 10.0,
    sigma: float = 10.0,
    beta: float = 8.0 / 3.0,
    observed: int = 4,
    x0: ArrayLike | Sequence[float] | None = None,
    burn_in: int = 1000,
    substeps: int = 1,
    standardise: bool = False,
    noise: float = 0.0,
    key: PRNGKeyArray | int | None = None,
) -> Float[np.ndarray, "T observed"]:
    """A slow–fast system: Lorenz-63 whose ρ is swept slowly through the onset of chaos.

    ρ(t) = ρ̄ + Δρ·u(t), where (u, v) = (cos, −sin)(ωt + φ) is a harmonic oscillator with a
    period of `period` samples. With the defaults (ρ between 18 and 38, a period of 10 000
    samples of dt = 0.01, i.e. 100 time units) the trajectory alternates between chaotic
    bursts (ρ above the subcritical Hopf point ρ_H ≈ 24.74) and quiescent phases of about
    3 000-4 000 samples, in which it spirals onto the slowly moving fixed point
    (±sqrt(β(ρ − 1)), ±sqrt(β(ρ − 1)), ρ − 1); the burst starts only well after ρ crosses
    ρ_H again (a delayed, slow passage through the bifurcation). Time scales: one loop of a
    Lorenz wing takes ~70 samples, a Lyapunov time ~110 samples, a quiescent phase a few
    thousand and the drive's period 10 000: a window of 200 samples sees 2 % of the slow cycle.

    **Arguments:**

    - `T`: number of samples.
    - `dt`: sampling interval (0.01 as in the Lorenz-63 benchmark).
    - `period`: the slow drive's period, in samples (≥ 2).
    - `rho_mean`, `rho_amplitude`: ρ̄ and Δρ; `sigma`, `beta`: the other Lorenz parameters.
    - `observed`: the columns returned: 3 = (x, y, z), the drive hidden; 4 = (x, y, z, u);
        5 = (x, y, z, u, v).
    - `x0`: the initial state (x, y, z, u, v), shape `(5,)`; default (1, 1, 1, 1, 0) plus
        0.1·N(0, 1) noise on (x, y, z) from `key`.
    - `burn_in`, `substeps`, `standardise`, `noise`, `key`: as in
        [`lorenz63`][paratime.data.lorenz63].

    **Returns:**

    A float32 NumPy array of shape `(T, observed)`.

    **Raises:**

    `ValueError` for a non-positive `T`, `dt` or `period`, an `observed` other than 3, 4 or
    5, a wrong `x0` shape, or a blow-up.

    ```python
    x = slow_fast_lorenz(100_000, standardise=True, noise=0.05)  # (100000, 4)
    ```
    """
    check_length(T)
    _check(
        dt, substeps, burn_in, rho_mean=rho_mean, rho_amplitude=rho_amplitude, sigma=sigma,
        beta=beta,
    )  # fmt: skip
    if not _is_int(period) or period < 2:
        raise ValueError(f"period must be an int >= 2 (samples per slow cycle); got {period!r}.")
    if observed not in (3, 4, 5) or isinstance(observed, bool):
        raise ValueError(f"observed must be 3, 4 or 5 (the columns returned); got {observed!r}.")
    k0, k1 = jax.random.split(as_key(key))
    dtype = _float()
    default = jnp.asarray([1.0, 1.0, 1.0, 1.0, 0.0], dtype)
    if x0 is None:
        init = default.at[:3].add(0.1 * jax.random.normal(k0, (3,), dtype))
    else:
        init = _initial(x0, default, 0.0, k0, 5)
    omega = 2 * math.pi / (period * dt)
    xs = integrate(
        slow_fast_lorenz_vector_field,
        init,
        T,
        dt,
        substeps=substeps,
        burn_in=burn_in,
        args=(rho_mean, rho_amplitude, omega, sigma, beta),
    )
    return finish(xs[:, :observed], standardise=standardise, noise=noise, key=k1)


@functools.lru_cache(maxsize=1)
def _slow_fast_pair() -> tuple[np.ndarray, np.ndarray]:
    # One 200 000-sample trajectory, standardised as a whole; the first half with 5 % noise
    # trains, the noise-free second half (its continuation) tests. Like every generator it
    # integrates in float64 under jax_enable_x64 and in float32 otherwise (the command line's
    # default, used for the results in docs/dsr.md): the two series differ sample by sample
    # after a few Lyapunov times, not in their statistics.
    x = slow_fast_lorenz(200_000, standardise=True, key=0)
    train = finish(x[:100_000], standardise=False, noise=0.05, key=jax.random.key(1))
    return train, x[100_000:]


def slow_fast_train() -> Float[np.ndarray, "100000 4"]:
    """The slow–fast benchmark's training part: 100 000 samples of `slow_fast_lorenz`
    (x, y, z, u; 10 slow periods), standardised, with 5 % observation noise."""
    return _slow_fast_pair()[0].copy()


def slow_fast_test() -> Float[np.ndarray, "100000 4"]:
    """The slow–fast benchmark's test part: the next 100 000 samples, noise-free, standardised
    with the same statistics as the training part."""
    return _slow_fast_pair()[1].copy()
