"""`throw=True`: raise a `NewtonError` with the iterations and the residual, also under `jit`.

The check costs nothing when nothing failed. Under `jit` it is a `lax.cond` on "some solve
failed" whose failing branch calls back to the host, which raises; the states pass through
it, so the check cannot be removed as dead code. Under `jax.vmap` a `lax.cond` on a batched
predicate would become a `select` that runs the callback (and copies the states to the host)
on every call, so a batching rule first reduces the predicate over the batch. Gradients pass
through unchanged (a custom JVP keeps the check out of differentiation).
"""

import functools

import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jaxtyping import Array


class NewtonError(RuntimeError):
    """Raised by `unroll(..., throw=True)` when a parallel solve fails."""


def raise_on_failure(code, num_steps, residual, *, messages: list[str]) -> None:
    """Raise `NewtonError` for the first failed solve of a (possibly batched) result code."""
    codes = np.ravel(np.asarray(code))
    failed = np.flatnonzero(codes)
    if failed.size:
        i = failed[0]
        steps = np.ravel(np.broadcast_to(np.asarray(num_steps), np.shape(code)))[i]
        res = np.ravel(np.broadcast_to(np.asarray(residual), np.shape(code)))[i]
        raise NewtonError(
            f"{messages[int(codes[i])]} Stopped after {int(steps)} iterations with residual "
            f"max|h_t - f(h_(t-1), x_t)| = {float(res):.3e}."
        )


def _host_check(code, num_steps, residual, states, *, messages):
    raise_on_failure(code, num_steps, residual, messages=messages)
    return states  # not reached: this branch only runs when a solve failed


def _make_check(messages: tuple[str, ...]):
    host = functools.partial(_host_check, messages=list(messages))

    @custom_vmap
    def check(code, num_steps, residual, states):
        return lax.cond(
            jnp.any(code != 0),
            lambda: jax.pure_callback(
                host,
                jax.ShapeDtypeStruct(states.shape, states.dtype),
                code,
                num_steps,
                residual,
                states,
            ),
            lambda: states,
        )

    @check.def_vmap
    def check_batch(axis_size, in_batched, code, num_steps, residual, states):
        del axis_size
        # The batch is now an ordinary axis: `check` reduces over it (and over any enclosing
        # vmap, whose batching rule is this one again).
        return check(code, num_steps, residual, states), in_batched[3]

    @jax.custom_jvp
    def checked(code, num_steps, residual, states):
        return check(code, num_steps, residual, states)

    @checked.defjvp
    def checked_jvp(primals, tangents):
        return checked(*primals), tangents[3]

    return checked


def raise_if_failed(
    states: Array, code: Array, num_steps: Array, residual: Array, messages: list[str]
) -> Array:
    """`states`, after raising `NewtonError` (at run time, under `jit`) if `code` is nonzero."""
    code, num_steps, residual = lax.stop_gradient((code, num_steps, residual))
    return _make_check(tuple(messages))(code, num_steps, residual, states)
