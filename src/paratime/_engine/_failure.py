"""`throw=True`: raise a `NewtonError` with the iterations and the residual, also under `jit`.

The check costs nothing when nothing failed. Under `jit` it is a `lax.cond` on "some solve
failed" whose failing branch calls back to the host, which raises; the states pass through
it, so the check cannot be removed as dead code. Under `jax.vmap` a `lax.cond` on a batched
predicate would become a `select` that runs the callback (and copies the states to the host)
on every call, so a batching rule first reduces the predicate over the batch. Gradients pass
through unchanged (a custom JVP keeps the check out of differentiation).
"""

import functools
from typing import Any

import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jaxtyping import Array, PyTree

from ._sharding import varying_axes
from ._solution import RESULTS


class NewtonError(jax.errors.JaxRuntimeError):
    """Raised by `unroll(..., throw=True)` when a parallel solve fails.

    Eagerly (no `jit` around the call) `unroll` raises it directly. Under `jax.jit` the
    error comes out of the compiled program as JAX's `jax.errors.JaxRuntimeError`, whose
    message ends with this error's text; `NewtonError` subclasses it, so
    `except jax.errors.JaxRuntimeError` catches the error both ways. `paratime.train`
    re-raises such an error as the `NewtonError` itself. (`NewtonError` is also a
    `RuntimeError`.)
    """


# The last error raised on the host (the callback runs outside the caller's frame), so that
# `as_newton_error` can give it back to Python code that catches JAX's runtime error.
_last: list[NewtonError] = []


def as_newton_error(error: BaseException) -> NewtonError | None:
    """The `NewtonError` that `error` (an error JAX raised from a compiled program) carries,
    or None if it carries none."""
    if isinstance(error, NewtonError):
        return error
    text = str(error)
    for candidate in reversed(_last):
        if str(candidate) in text:
            return candidate
    return None


NONFINITE = int(RESULTS.nonfinite._value)
# What `first_nonfinite` finds: nothing (the solve itself overflowed), or the input that
# holds the first non-finite value.
CULPRITS = ("", "h0", "xs", "parameters")


def first_nonfinite(
    h0: Any, xs: tuple[Any, ...], params: tuple[Any, ...], time_axes: tuple[int, ...]
) -> tuple[int, int]:
    """Which input holds a non-finite value (an index into `CULPRITS`) and, for `xs`, the
    first step that does (-1 if none). `time_axes` gives the time axis of each leaf of `xs`.
    Runs on the host (NumPy), only after a solve has failed."""

    def bad(x) -> bool:
        x = np.asarray(x)
        return bool(np.issubdtype(x.dtype, np.inexact) and not np.all(np.isfinite(x)))

    if any(bad(x) for x in jax.tree_util.tree_leaves(h0)):
        return 1, -1
    steps = []
    for x, axis in zip(xs, time_axes):
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.inexact) and not np.all(np.isfinite(x)):
            other = tuple(a for a in range(x.ndim) if a != axis)
            steps.append(int(np.argmax(np.any(~np.isfinite(x), axis=other))))
    if steps:
        return 2, min(steps)
    if any(bad(x) for x in params):
        return 3, -1
    return 0, -1


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
        error = NewtonError(
            f"{message} Stopped after {int(steps)} iterations with residual "
            f"max|h_t - f(h_(t-1), x_t)| = {float(res):.3e}."
        )
        _last[:] = [error]
        raise error


def _host_check(code, num_steps, residual, h0, xs, params, states, *, time_axes, **kwargs):
    culprit, step = (0, -1)
    if np.any(np.asarray(code) == NONFINITE):
        culprit, step = first_nonfinite(h0, xs, params, time_axes)
    raise_on_failure(code, num_steps, residual, culprit, step, **kwargs)
    return states  # not reached: this branch only runs when a solve failed


def _make_check(messages: tuple[str, ...], input_message: str, time_axes: tuple[int, ...]):
    host = functools.partial(
        _host_check, time_axes=time_axes, messages=list(messages), input_message=input_message
    )

    @custom_vmap
    def check(code, num_steps, residual, states, h0, xs, params):
        def fail():
            # Only when some solve failed: the inputs go to the host, which names a
            # non-finite one.
            return jax.pure_callback(
                host,
                jax.ShapeDtypeStruct(states.shape, states.dtype),
                code,
                num_steps,
                residual,
                h0,
                xs,
                params,
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
        # The states' tangent passes through (a callback has no JVP); `keep_check` makes
        # it depend on the check, so that reverse mode keeps the check.
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


_NONFINITE_CAUSE = (
    " The inputs are finite, so the iteration overflowed: this usually "
    "means the cell is expanding (positive Lyapunov exponent), so the linearised recurrence "
    "overflows (`paratime.lyapunov(cell, h0, xs)` measures it)."
)
_SLOW_CAUSE = (
    " The cell may not be contractive along this sequence: `paratime.lyapunov(cell, h0, xs)` "
    "measures it (largest exponent > 0: Newton needs up to T iterations)."
)


def failure_messages(solver: Any, T: int, N: int) -> tuple[list[str], str]:
    """The message of each result code (with `solver.hint(result)`), and the one naming a
    non-finite input."""
    head = f"{solver} failed on a sequence of T={T} steps with N={N} state dimensions: "
    messages = [""]
    items = {int(item._value): item for item in RESULTS._name_to_item.values()}
    for code, text in enumerate(RESULTS._index_to_message[1:], start=1):
        item = items[code]
        cause = _NONFINITE_CAUSE if code == RESULTS.nonfinite._value else _SLOW_CAUSE
        messages.append(head + text + cause + solver.hint(item))
    input_message = head + (
        "the solve produced a non-finite value (NaN or Inf) because {what} holds one{where}. "
        "Check the inputs: this is not a failure of the solver."
    )
    return messages, input_message


@jax.custom_jvp
def keep_check(tree: PyTree[Array], checked: Array) -> PyTree[Array]:
    """`tree` (the unflattened states), whose tangent depends on `checked` (the flat states
    returned by the failure check), so that reverse mode keeps the check.

    `jax.grad` of a loss that reads the states only through their gradient (a linear loss)
    would otherwise drop the check as dead code: the check's output feeds nothing the
    gradient needs. Each leaf's tangent is scaled by 1 + 0·Σ checked[0] (1 unless the check's
    states hold a NaN); scaling the unflattened leaves, not the flat states, keeps the
    cotangent out of the flat layout, where XLA would have to build it (one T×N buffer more
    for a cell with several state arrays). A forward program computes nothing for it.
    """
    del checked
    return tree


@keep_check.defjvp
def _keep_check_jvp(primals, tangents):
    tree, checked = primals
    one = 1 + 0 * jnp.sum(lax.stop_gradient(checked[:1]))
    return tree, jax.tree_util.tree_map(lambda t: t * one.astype(t.dtype), tangents[0])


def check(
    states: Array,
    result: RESULTS,
    stats: dict[str, Any],
    *,
    messages: list[str],
    input_message: str,
    inputs: tuple[Any, tuple[Any, ...], tuple[Any, ...]],
) -> Array:
    """`throw=True`: raise `NewtonError` now (concrete values), per device (inside
    `shard_map`) or at run time (traced: `jit`, `vmap`, `grad`); the states pass through.
    `inputs` = (h0, the leaves of xs, the parameters), searched for a non-finite value."""
    code, steps, residual = result._value, stats["num_steps"], stats["residual"]
    if not isinstance(code, jax.core.Tracer):  # pyright: ignore[reportAttributeAccessIssue]  # public, not in the stubs
        culprit, step = (0, -1)
        if np.any(np.asarray(code) == RESULTS.nonfinite._value):
            culprit, step = first_nonfinite(*inputs, (0,) * len(inputs[1]))
        raise_on_failure(
            code, steps, residual, culprit, step, messages=messages, input_message=input_message
        )
        return states
    if varying_axes(code):  # inside shard_map: a per-device check
        check_one = functools.partial(raise_on_failure, messages=messages)
        jax.debug.callback(check_one, *lax.stop_gradient((code, steps, residual)))
        return states
    code = jnp.asarray(code)
    return raise_if_failed(states, code, steps, residual, messages, inputs, input_message)
