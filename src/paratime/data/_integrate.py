"""A fixed-step fourth-order Runge-Kutta integrator on `jax.lax.scan`."""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def rk4_step(
    vector_field: Callable[[Array], Array], x: Float[ArrayLike, " d"], dt: float | Array
) -> Float[Array, " d"]:
    """One classical Runge-Kutta step of size `dt` for the autonomous ODE `dx/dt = f(x)`.

    **Arguments:**

    - `vector_field`: `f(x) -> dx/dt`, with the shape of `x`.
    - `x`: the current state.
    - `dt`: the step size.

    **Returns:**

    The state after one step (local error O(dt⁵)).

    ```python
    step = lambda x: rk4_step(lambda x: -x, x, 0.1)
    ```
    """
    x = jnp.asarray(x)
    k1 = vector_field(x)
    k2 = vector_field(x + 0.5 * dt * k1)
    k3 = vector_field(x + 0.5 * dt * k2)
    k4 = vector_field(x + dt * k3)
    return x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


@functools.partial(jax.jit, static_argnames=("vector_field", "num_samples", "substeps", "burn_in"))
def _run(vector_field, x0, args, dt, num_samples, substeps, burn_in):
    h = dt / substeps
    f = lambda x: vector_field(x, *args)

    def sample(x, _):
        x = jax.lax.fori_loop(0, substeps, lambda _, x: rk4_step(f, x, h), x)
        return x, x

    x, _ = jax.lax.scan(sample, x0, None, length=burn_in)
    return jax.lax.scan(sample, x, None, length=num_samples)[1]


def integrate(
    vector_field: Callable[..., Array],
    x0: Float[ArrayLike, " d"],
    num_samples: int,
    dt: float,
    *,
    substeps: int = 1,
    burn_in: int = 0,
    args: tuple = (),
) -> Float[Array, "T d"]:
    """Sample an ODE trajectory at spacing `dt`, integrating with RK4 steps of `dt / substeps`.

    **Arguments:**

    - `vector_field`: `f(x, *args) -> dx/dt`. Compiled code is cached per `vector_field`
        object (and sizes), so pass a module-level function with `args` rather than a new
        lambda on every call when calling repeatedly.
    - `x0`: the initial state.
    - `num_samples`: how many samples to return (after the burn-in).
    - `dt`: the time between samples.
    - `substeps`: RK4 steps per sample (a finer integration step, same sampling).
    - `burn_in`: samples integrated and discarded first (to land on the attractor).
    - `args`: extra arguments of `vector_field` (traced: changing them does not recompile).

    **Returns:**

    The samples x(t_0 + dt), ..., x(t_0 + num_samples·dt), shape `(num_samples, d)`, where
    t_0 is the end of the burn-in.
    """
    x0 = jnp.asarray(x0)
    args = tuple(jnp.asarray(a, x0.dtype) for a in args)
    return _run(vector_field, x0, args, jnp.asarray(dt, x0.dtype), num_samples, substeps, burn_in)
