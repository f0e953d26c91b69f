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

from ._solution import RESULTS


class NewtonError(RuntimeError):
    """Raised by `unroll(..., throw=True)` when a parallel solve fails."""


NONFINITE = int(RESULTS.nonfinite._value)
# What `first_nonfinite` finds: nothing (the solve itself overflowed), or the input that
# holds the first non-finite value.
CULPRITS = ("", "h0", "xs", "parameters")


def first_nonfinite(
    h0: Array, xs: tuple[Array, ...], params: tuple[Array, ...], time_axes: tuple[int, ...]
) -> tuple[Array, Array]:
    """Which input holds a non-finite value (an index into `CULPRITS`) and, for `xs`, the
    first step that does (T if none). `time_axes` gives the time axis of each leaf of `xs`."""

    def bad(x):
        return jnp.any(~jnp.isfinite(x)) if jnp.issubdtype(x.dtype, jnp.inexact) else False

    h0_bad = jnp.any(jnp.asarray([bad(x) for x in jax.tree_util.tree_leaves(h0)]))
    step = None
    for x, axis in zip(xs, time_axes):
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            continue
        T = x.shape[axis]
        other = tuple(a for a in range(x.ndim) if a != axis)
        bad_t = jnp.any(~jnp.isfinite(x), axis=other)
        first = jnp.where(jnp.any(bad_t), jnp.argmax(bad_t), T)
        step = first if step is None else jnp.minimum(step, first)
    step = jnp.asarray(-1 if step is None else step, jnp.int32)
    some = [bad(x) for x in params]
    params_bad = jnp.any(jnp.asarray(some)) if some else jnp.asarray(False)
    xs_bad = (step >= 0) & (step < max((x.shape[a] for x, a in zip(xs, time_axes)), default=0))
    culprit = jnp.where(h0_bad, 1, jnp.where(xs_bad, 2, jnp.where(params_bad, 3, 0)))
    return culprit.astype(jnp.int32), step


def raise_on_failure(
    code, num_steps, residual, culprit=0, step=-1, *, messages: list[str], input_message: str = ""
) -> None:
    """Raise `NewtonError` for the first failed solve of a (possibly batched) result code.

    `messages[code]` is the message of each result code. Where the code is `nonfinite` and an
    input holds a non-finite value (`culprit`, see `first_nonfinite`), `input_message` (with
    `{what}` and `{where}` filled in) names that input instead of suspecting the cell."""
    codes = np.ravel(np.asarray(code))
    failed = np.flatnonzero(codes)
    if failed.size:
        i = failed[0]
        steps = np.ravel(np.broadcast_to(np.asarray(num_steps), np.shape(code)))[i]
        res = np.ravel(np.broadcast_to(np.asarray(residual), np.shape(code)))[i]
        message = messages[int(codes[i])]
        name = CULPRITS[int(np.max(np.asarray(culprit)))]
        if name and input_message and int(codes[i]) == NONFINITE:
            where = f" (first at step {int(np.min(np.asarray(step)))})" if name == "xs" else ""
            what = f"`{name}`" if name != "parameters" else "the cell's parameters"
            message = input_message.format(what=what, where=where)
        raise NewtonError(
            f"{message} Stopped after {int(steps)} iterations with residual "
            f"max|h_t - f(h_(t-1), x_t)| = {float(res):.3e}."
        )


def _host_check(code, num_steps, residual, culprit, step, states, *, messages, input_message):
    raise_on_failure(
        code, num_steps, residual, culprit, step, messages=messages, input_message=input_message
    )
    return states  # not reached: this branch only runs when a solve failed


def _make_check(messages: tuple[str, ...], input_message: str, time_axes: tuple[int, ...]):
    host = functools.partial(_host_check, messages=list(messages), input_message=input_message)

    @custom_vmap
    def check(code, num_steps, residual, states, h0, xs, params):
        def fail():
            # Only when some solve failed: which input (if any) is not finite.
            culprit, step = first_nonfinite(h0, xs, params, time_axes)
            return jax.pure_callback(
                host,
                jax.ShapeDtypeStruct(states.shape, states.dtype),
                code,
                num_steps,
                residual,
                culprit,
                step,
                states,
            )

        return lax.cond(jnp.any(code != 0), fail, lambda: states)

    @check.def_vmap
    def check_batch(axis_size, in_batched, code, num_steps, residual, states, h0, xs, params):
        del axis_size
        # The batch is now an ordinary axis: `check` reduces over it (and over any enclosing
        # vmap, whose batching rule is this one again). A batched leaf of `xs` has its time
        # axis one further along.
        axes = tuple(a + 1 if b else a for a, b in zip(time_axes, in_batched[5]))
        inner = _make_check(messages, input_message, axes)
        return inner(code, num_steps, residual, states, h0, xs, params), in_batched[3]

    @jax.custom_jvp
    def checked(code, num_steps, residual, states, h0, xs, params):
        return check(code, num_steps, residual, states, h0, xs, params)

    @checked.defjvp
    def checked_jvp(primals, tangents):
        return checked(*primals), tangents[3]

    return checked


def raise_if_failed(
    states: Array,
    code: Array,
    num_steps: Array,
    residual: Array,
    messages: list[str],
    inputs: tuple[Array, tuple[Array, ...], tuple[Array, ...]],
    input_message: str = "",
) -> Array:
    """`states`, after raising `NewtonError` (at run time, under `jit`) if `code` is nonzero.

    `inputs` = (h0, the leaves of xs, the cell's floating-point parameters): inspected only
    when a solve failed, to name a non-finite input."""
    code, num_steps, residual, inputs = lax.stop_gradient((code, num_steps, residual, inputs))
    h0, xs, params = inputs
    check = _make_check(tuple(messages), input_message, (0,) * len(xs))
    return check(code, num_steps, residual, states, h0, tuple(xs), tuple(params))
