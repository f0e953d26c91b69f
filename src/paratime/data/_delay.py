"""Delay and input-driven benchmarks: Mackey-Glass and NARMA-10."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, PRNGKeyArray

from ._finish import as_key, check_length, finish


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _mackey_glass(params, m, sample_every, burn_in, T):
    beta, gamma, n, dt, x0 = params

    def f(x, x_delayed):
        return beta * x_delayed / (1.0 + x_delayed**n) - gamma * x

    def step(carry, _):
        buf, x, p = carry  # buf[p] = x_{k-m}, buf[(p + 1) % m] = x_{k-m+1}
        d0, d1 = buf[p], buf[(p + 1) % m]
        dh = 0.5 * (d0 + d1)
        k1 = f(x, d0)
        k2 = f(x + 0.5 * dt * k1, dh)
        k3 = f(x + 0.5 * dt * k2, dh)
        k4 = f(x + dt * k3, d1)
        buf = buf.at[p].set(x)
        x = x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return (buf, x, (p + 1) % m), None

    def sample(carry, _):
        carry, _ = jax.lax.scan(step, carry, None, length=sample_every)
        return carry, carry[1]

    carry = (jnp.full(m, x0), x0, jnp.asarray(0))
    carry, _ = jax.lax.scan(sample, carry, None, length=burn_in)
    return jax.lax.scan(sample, carry, None, length=T)[1][:, None]


def mackey_glass(
    T: int,
    *,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    n: float = 10.0,
    dt: float = 0.1,
    sample_every: int = 10,
    x0: float = 1.2,
    burn_in: int = 500,
    standardise: bool = False,
    noise: float = 0.0,
    key: PRNGKeyArray | int | None = None,
) -> Float[np.ndarray, "T 1"]:
    """The Mackey-Glass delay equation dx/dt = β x(t−τ) / (1 + x(t−τ)ⁿ) − γ x(t).

    **Discretisation.** RK4 with fixed step `dt`, where `tau / dt` must be an integer m ≥ 2.
    The history x(t) = `x0` for t ≤ 0. A ring buffer holds the last m values x_{k−m..k−1};
    the delayed term at the stage times t_k, t_k + dt/2, t_k + dt is x_{k−m}, the mean of
    x_{k−m} and x_{k−m+1}, and x_{k−m+1} (linear interpolation at the half step). One sample
    is kept every `sample_every` steps, so the default samples once per time unit
    (dt = 0.1, 10 steps), the usual convention of the reservoir-computing literature.

    **Arguments:**

    - `T`: number of samples.
    - `tau`: the delay (17 gives mild chaos; 30 stronger); `beta`, `gamma`, `n`: the
        equation's constants.
    - `dt`: the integration step; `sample_every`: steps per sample.
    - `x0`: the constant initial history.
    - `burn_in`: samples discarded first (the transient from the constant history).
    - `standardise`, `noise`, `key`: as in [`lorenz63`][paratime.data.lorenz63].

    **Returns:**

    A float32 NumPy array of shape `(T, 1)`.

    **Raises:**

    `ValueError` if `tau / dt` is not an integer ≥ 2, or for non-positive sizes.
    """
    check_length(T)
    m = int(round(tau / dt))
    if m < 2 or abs(m * dt - tau) > 1e-9 * max(1.0, tau):
        raise ValueError(f"tau / dt must be an integer >= 2; got tau={tau}, dt={dt}.")
    for name, value, low in (("sample_every", sample_every, 1), ("burn_in", burn_in, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    dtype = jnp.result_type(float)
    params = jnp.asarray([beta, gamma, n, dt, x0], dtype)
    xs = _mackey_glass(params, m, sample_every, burn_in, T)
    return finish(xs, standardise=standardise, noise=noise, key=as_key(key))


@jax.jit
def _narma10(u):
    def step(carry, ut):
        ys, us = carry  # outputs y_{t-9..t} and inputs u_{t-10..t-1}, newest last
        us = jnp.concatenate([us[1:], ut[None]])
        y = 0.3 * ys[-1] + 0.05 * ys[-1] * ys.sum() + 1.5 * us[0] * ut + 0.1
        return (jnp.concatenate([ys[1:], y[None]]), us), y

    init = (jnp.zeros(10, u.dtype), jnp.zeros(10, u.dtype))
    return jax.lax.scan(step, init, u)[1]


def narma10(
    T: int, *, key: PRNGKeyArray | int | None = None, burn_in: int = 200
) -> tuple[Float[np.ndarray, "T 1"], Float[np.ndarray, "T 1"]]:
    """The NARMA-10 input-output task (Atiya and Parlos 2000).

    u_t ~ U[0, 0.5] i.i.d. and
    y_{t+1} = 0.3 y_t + 0.05 y_t Σ_{i=0}^{9} y_{t−i} + 1.5 u_{t−9} u_t + 0.1, with y = 0
    before the start. The task is to predict `y[t]` from `u[: t + 1]`: `y[t]` is y_{t+1} of
    the recursion, the value produced after seeing `u[t]`.

    **Arguments:**

    - `T`: number of time steps returned.
    - `key`: PRNG key or int seed for the inputs; `None` means seed 0.
    - `burn_in`: steps simulated and discarded first (the zero-history transient).

    **Returns:**

    `(u, y)`, two float32 NumPy arrays of shape `(T, 1)`.
    """
    check_length(T)
    dtype = jnp.result_type(float)
    u = jax.random.uniform(as_key(key), (T + burn_in,), dtype, 0.0, 0.5)

    y = _narma10(u)
    u, y = np.asarray(u[burn_in:]), np.asarray(y[burn_in:])
    if not np.isfinite(y).all():  # pragma: no cover - NARMA-10 is bounded for u in [0, 0.5]
        raise ValueError("NARMA-10 diverged for this key; use another key.")
    return u[:, None].astype(np.float32), y[:, None].astype(np.float32)
