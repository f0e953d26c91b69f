"""`unroll`: evaluate and differentiate a recurrent cell over a whole sequence."""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Inexact, PyTree

from ._adjoint import pullback
from ._adjoints import AutodiffAdjoint
from ._batching import lockstep_cond, one_at_a_time_on_cpu, vmap_batch_size
from ._failure import first_nonfinite, raise_if_failed, raise_on_failure
from ._flat import FlatCell, FlatState, flat_state
from ._platform import platform
from ._solution import RESULTS, Solution
from ._solver import AbstractSolver, Auto
from ._solver._newton import shift_in
from ._solver._sequential import Sequential, scan_states


def _forward(solver, cell, h0, xs, guess, fallback):
    """`(states, result, stats)`, and the Jacobians at the states if the solver kept them."""
    if solver._one_at_a_time_on_cpu:  # batched on a CPU, one sequence after another
        dynamic, static = eqx.partition(cell, eqx.is_array)
        out = one_at_a_time_on_cpu(
            lambda d, h0, xs, guess: solver.solve(eqx.combine(d, static), h0, xs, guess),
            dynamic,
            h0,
            xs,
            guess,
        )
    else:
        out = solver.solve(cell, h0, xs, guess)
    states, result, stats, jacobians = out.states, out.result, dict(out.stats), out.linearisation
    if fallback == "sequential":
        jacobians = None  # the states may be replaced
        failed = result != RESULTS.successful
        if isinstance(solver.differentiation(), AutodiffAdjoint):  # a plain cond
            states = lax.cond(failed, lambda: scan_states(cell, h0, xs), lambda: states)
        else:  # batched, the fallback scan runs only if some sequence failed
            dynamic, static = eqx.partition(cell, eqx.is_array)
            states = lockstep_cond(
                failed,
                lambda ops: scan_states(eqx.combine(ops[0], static), *ops[1:3]),
                lambda ops: ops[3],
                (dynamic, h0, xs, states),
            )
        stats = {**stats, "fallback_used": failed, "newton_result": result._value}
        result = RESULTS.successful
    return (states, result, stats), jacobians


@eqx.filter_custom_vjp
def _implicit(vjp_arg, solver, guess, fallback):
    cell, h0, xs = vjp_arg
    return _forward(solver, cell, h0, xs, guess, fallback)[0]


@_implicit.def_fwd
def _implicit_fwd(perturbed, vjp_arg, solver, guess, fallback):
    # (`vjp_arg` is the triple (cell, h0, xs))
    out, jacobians = _forward(solver, *vjp_arg, guess, fallback)  # pyright: ignore[reportCallIssue]
    return out, (out[0], jacobians)


@_implicit.def_bwd
def _implicit_bwd(residuals, grad_obj, perturbed, vjp_arg, solver, guess, fallback):
    states, jacobians = residuals
    cell, h0, xs = vjp_arg
    g = grad_obj[0]
    if g is None:
        g = jnp.zeros_like(states)
    prev = shift_in(h0, states)
    dynamic, static = eqx.partition(cell, eqx.is_array)

    method = solver.differentiation()
    if jacobians is not None and solver.linearisation(cell) != method.structure(solver, cell):
        jacobians = None  # the solve's Jacobians are not in the layout the adjoint reads

    def adjoint(dynamic, prev, xs, g, jacobians):
        cell = eqx.combine(dynamic, static)
        return method.cotangent(solver, cell, prev, xs, g, jacobians)

    args = (dynamic, prev, xs, g, jacobians)
    # After a Newton solve (Jacobians at hand), batched on a CPU: one sequence after another.
    # (The dense adjoint of `ImplicitSequential` has its own time-major batching rule.)
    if jacobians is None or not solver._one_at_a_time_on_cpu:
        lam = adjoint(*args)
    else:
        lam = one_at_a_time_on_cpu(adjoint, *args)
    return pullback(cell, prev, xs, lam)


@eqx.filter_jit
def _solve(solver: AbstractSolver, cell: FlatCell, h0, xs, guess, fallback, target: str):
    # `target` (the platform, static) keeps programs traced for different platforms apart.
    del target
    guess = None if guess is None else lax.stop_gradient(guess)
    if isinstance(solver.differentiation(), AutodiffAdjoint):
        return _forward(solver, cell, h0, xs, guess, fallback)[0]
    return _implicit((cell, h0, xs), solver, guess, fallback)


def _hint(solver: AbstractSolver, code: int) -> str:
    """What to try after `solver` failed with `code`; never `solver` itself."""
    from ._solver import ELK, QuasiDEER

    options = []
    if not isinstance(solver, ELK):
        options.append("`paratime.ELK()` (damped steps stay stable on chaotic cells)")
    if not isinstance(solver, (QuasiDEER, ELK, Sequential)):
        options.append("`paratime.QuasiDEER()`")
    if not isinstance(solver, Sequential):
        options.append("a shorter sequence")
        if code == RESULTS.max_iters_reached._value:
            options.append("more `max_iters`")
        options.append("`fallback='sequential'`")
        options.append("`paratime.Sequential()`")
    return (
        " Try "
        + ", ".join(options[:-1])
        + (", or " if len(options) > 1 else "")
        + (options[-1] + ".")
    )


_NONFINITE_CAUSE = (
    " The inputs are finite, so the iteration overflowed: this usually "
    "means the cell is expanding (positive Lyapunov exponent), so the linearised recurrence "
    "overflows."
)


def _failure_messages(solver: AbstractSolver, T: int, N: int) -> tuple[list[str], str]:
    """The message of each result code, and the one naming a non-finite input."""
    head = f"{solver} failed on a sequence of T={T} steps with N={N} state dimensions: "
    messages = [""]
    for code, text in enumerate(RESULTS._index_to_message[1:], start=1):
        cause = _NONFINITE_CAUSE if code == RESULTS.nonfinite._value else ""
        messages.append(head + text + cause + _hint(solver, code))
    input_message = head + (
        "the solve produced a non-finite value (NaN or Inf) because {what} holds one{where}. "
        "Check the inputs: this is not a failure of the solver."
    )
    return messages, input_message


def _varying_axes(tree: Any) -> frozenset:
    """The `shard_map` mesh axes over which some array of `tree` varies (empty outside)."""
    axes: set = set()
    for x in jax.tree_util.tree_leaves(tree):
        if isinstance(x, jax.Array):
            aval = jax.typeof(x)
            varying = getattr(getattr(aval, "mat", None), "varying", None)
            axes |= set(varying or getattr(aval, "vma", None) or ())
    return frozenset(axes)


def _match_varying(x: Array, axes: frozenset) -> Array:
    """Mark `x` as varying over `axes` inside `shard_map`, so loop carries have one type."""
    missing = tuple(sorted(axes - _varying_axes(x)))
    return lax.pcast(x, missing, to="varying") if missing else x


def _check_declared_shapes(cell, h0_shape, x0) -> None:
    """Name the argument that does not fit a cell that declares its shapes."""
    from ._cell import AbstractCell

    expected = cell.expected_shapes() if isinstance(cell, AbstractCell) else None
    if expected is None:
        return
    state, x_shape = expected
    got = jax.tree_util.tree_map(lambda x: tuple(x.shape), h0_shape)

    def is_shape(x):
        return isinstance(x, tuple) and all(isinstance(i, int) for i in x)

    want = jax.tree_util.tree_map(tuple, state, is_leaf=is_shape)
    if got != want:
        raise ValueError(
            f"`h0` must have shape {want} for this {type(cell).__name__} cell; got {got}."
        )
    if x_shape is not None:
        leaves = jax.tree_util.tree_leaves(x0)
        got_x = tuple(np.shape(leaves[0])) if len(leaves) == 1 else None
        if got_x != tuple(x_shape):
            shown = got_x if got_x is not None else [np.shape(x) for x in leaves]
            raise ValueError(
                f"`xs` must have shape (T, {', '.join(map(str, x_shape))}) for this "
                f"{type(cell).__name__} cell (one step: {tuple(x_shape)}); got one step of "
                f"shape {shown}."
            )


def _validate(cell, h0, xs, guess, solver, fallback) -> tuple[FlatState, int]:
    if not callable(cell):
        raise TypeError(f"`cell` must be callable as cell(h, x); got {type(cell).__name__}.")
    if not isinstance(solver, AbstractSolver):
        raise TypeError(f"`solver` must be a paratime solver; got {type(solver).__name__}.")
    if fallback not in (None, "sequential"):
        raise ValueError(f"`fallback` must be None or 'sequential'; got {fallback!r}.")
    h0_leaves = jax.tree_util.tree_leaves(h0)
    if not h0_leaves:
        raise ValueError("`h0` must contain at least one array.")
    dtypes = {jnp.result_type(x) for x in h0_leaves}
    if len(dtypes) > 1:
        raise ValueError(
            f"all leaves of `h0` must share one dtype; got {sorted(map(str, dtypes))}."
        )
    if not jnp.issubdtype(next(iter(dtypes)), jnp.inexact):
        raise ValueError(f"`h0` must be floating or complex; got dtype {next(iter(dtypes))}.")
    x_leaves = jax.tree_util.tree_leaves(xs)
    if not x_leaves:
        raise ValueError("`xs` must contain at least one array with a leading time axis.")
    if any(np.ndim(x) == 0 for x in x_leaves):
        raise ValueError("`xs` must have a leading time axis: shape (T, D); got a scalar.")
    lengths = {np.shape(x)[0] for x in x_leaves}
    if len(lengths) > 1:
        raise ValueError(f"all leaves of `xs` must have the same length T; got {sorted(lengths)}.")
    T = lengths.pop()
    if T < 1:
        raise ValueError("`xs` must have at least one time step (T >= 1); got T = 0.")
    x0 = jax.tree_util.tree_map(lambda x: x[0], xs)
    h0_shape = jax.eval_shape(lambda: h0)
    _check_declared_shapes(cell, h0_shape, x0)
    try:
        out = jax.eval_shape(cell, h0, x0)
    except Exception as e:
        h0_shapes = [tuple(x.shape) for x in jax.tree_util.tree_leaves(h0_shape)]
        x_shapes = [tuple(np.shape(x)) for x in jax.tree_util.tree_leaves(xs)]
        raise ValueError(
            f"calling `cell(h0, xs[0])` failed: `h0` (shapes {h0_shapes}) or `xs` (shapes "
            f"{x_shapes}, time first) does not fit the cell {type(cell).__name__}. "
            f"The cell raised: {e}"
        ) from e
    if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(h0_shape) or any(
        (a.shape, a.dtype) != (b.shape, b.dtype)
        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(h0_shape))
    ):
        raise ValueError(
            "`cell(h, x)` must return a state with the same structure, shapes and dtype as `h0`; "
            f"got {out} for h0 = {h0_shape}."
        )
    fs = flat_state(h0)
    if guess is not None:
        expected = [(T,) + s for s in fs.shapes]
        got = [np.shape(x) for x in jax.tree_util.tree_leaves(guess)]
        if got != expected:
            raise ValueError(f"`guess` must have shapes {expected} (T, *h0.shape); got {got}.")
    return fs, T


def unroll(
    cell: Callable[[Any, Any], Any],
    h0: PyTree[Inexact[Array, "..."]],
    xs: PyTree[Array],
    *,
    solver: AbstractSolver = Auto(),
    throw: bool = True,
    fallback: Literal["sequential"] | None = None,
    guess: PyTree[Inexact[Array, "T ..."]] | None = None,
) -> Solution:
    """Compute the trajectory h_t = cell(h_{t−1}, x_t), t = 1..T, in parallel over time.

    **Arguments:**

    - `cell`: any callable `(h, x) -> h_next`, usually an `eqx.Module` (its arrays are the
        parameters that gradients flow to). Subclass `paratime.cells.AbstractCell` to supply
        analytic Jacobians; otherwise they come from autodiff.
    - `h0`: the initial state: an array of shape (N,) or any PyTree of arrays (e.g. the
        LSTM's `(h, c)`), all of one floating or complex dtype.
    - `xs`: the inputs: an array of shape (T, D), or any PyTree of arrays with leading axis T.
    - `solver`: `Auto()` (default), `Sequential()`, `DEER()`, `QuasiDEER()`, `ELK()`, ...
    - `throw`: if the solve fails (no convergence, non-finite or diverging iterates), raise
        `NewtonError` naming the solver, the problem, the iterations and the residual, with
        hints (under `jit`, JAX reports it as its runtime error with the same message).
        With `throw=False` check `Solution.result` instead.
    - `fallback`: `"sequential"` re-solves with `lax.scan` when the parallel solve fails, so the
        returned states are always exact (`stats["fallback_used"]` says whether it happened).
    - `guess`: an initial trajectory for Newton solvers (warm start), shaped like the states.

    **Returns:**

    A `Solution` whose `states` hold h_1..h_T (leading axis T, same structure as `h0`), with
    `result` and `stats` (`num_steps`, `residual`). Differentiable with `jax.grad` w.r.t. the
    cell's parameters, `h0` and `xs`; parallel solvers use the exact adjoint method. Batch with
    `jax.vmap`.

    **Raises:**

    `ValueError`/`TypeError` for malformed arguments; `NewtonError` as described for `throw`.

    **Example:**

    ```python
    import jax, jax.numpy as jnp, paratime
    cell = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (10_000, 3))
    sol = paratime.unroll(cell, jnp.zeros(16), xs, solver=paratime.DEER())
    sol.states.shape  # (10000, 16)
    ```
    """
    fs, T = _validate(cell, h0, xs, guess, solver, fallback)
    flat_cell = FlatCell(cell, fs)
    axes = _varying_axes((cell, h0, xs))
    h0_flat = _match_varying(fs.ravel(h0), axes)
    guess_flat = None if guess is None else _match_varying(fs.ravel_trajectory(guess), axes)
    batch = vmap_batch_size((cell, h0, xs))
    if isinstance(solver, Auto):
        chosen_for = batch if solver.batch is None else solver.batch
        x0 = jax.tree_util.tree_map(lambda leaf: leaf[0], xs)
        solver = solver.select(cell, T, fs.size, batch=chosen_for, h0=h0, x=x0)
    if isinstance(solver, Sequential) and solver.cell_loop and batch > 1:
        # The LSTM's own loop, batched, took twice the plain scan's time (N = 64, batch 16).
        solver = dataclasses.replace(solver, cell_loop=False)
    states, result, stats = _solve(solver, flat_cell, h0_flat, xs, guess_flat, fallback, platform())
    if throw:
        messages, input_message = _failure_messages(solver, T, fs.size)
        code, steps, residual = result._value, stats["num_steps"], stats["residual"]
        params = tuple(x for x in jax.tree_util.tree_leaves(cell) if eqx.is_inexact_array(x))
        inputs = (h0_flat, tuple(jax.tree_util.tree_leaves(xs)), params)
        # (`import jax` loads jax.core; pyright does not see it as an attribute)
        if not isinstance(code, jax.core.Tracer):  # pyright: ignore[reportAttributeAccessIssue]
            culprit, step = (0, -1)
            if np.any(np.asarray(code) == RESULTS.nonfinite._value):
                culprit, step = first_nonfinite(*inputs, (0,) * len(inputs[1]))
            raise_on_failure(
                code,
                steps,
                residual,
                culprit,
                step,
                messages=messages,
                input_message=input_message,
            )
        elif _varying_axes(code):  # inside shard_map: a per-device check
            check = functools.partial(raise_on_failure, messages=messages)
            jax.debug.callback(check, *lax.stop_gradient((code, steps, residual)))
        else:  # traced (jit, vmap, grad): raises at run time
            # (`code` is a traced array here: the concrete case was handled above)
            states = raise_if_failed(states, code, steps, residual, messages, inputs, input_message)  # pyright: ignore[reportArgumentType]
    return Solution(fs.unravel_trajectory(states), result, stats)
