"""`unroll`: evaluate and differentiate a recurrent cell over a whole sequence.

Validation is in `_validate.py`, differentiation in the solver's adjoint (`_adjoints.py`),
the failure check in `_failure.py`; here: the flat state, `Auto`'s choice, the fallback.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.lax as lax
from jaxtyping import Array, Bool, Inexact, PyTree

from ._batching import vmap_batch_size
from ._failure import check, failure_messages, keep_check
from ._fallback import finish, resolve_fallback
from ._flat import FlatCell
from ._platform import platform
from ._precision import solver_dtype, with_precision, with_tolerances_of
from ._record import record
from ._resets import with_resets
from ._sharding import match_varying, varying_axes
from ._solution import Linearisation, Solution
from ._solver import AbstractSolver, Auto
from ._solver._sequential import Sequential
from ._state import flat_state
from ._validate import validate


def _primal(inputs, args):
    """The solve and the failure policy (`_fallback.finish`): `((states, result, stats),
    linearisation)`, what the solver's adjoint (`AbstractAdjoint.apply`) differentiates."""
    cell, h0, xs = inputs
    solver, guess, fallback = args
    if fallback == "elk" and solver.adjoint.through_solve:
        fallback = "sequential"  # (differentiated through the solve: ELK's loop is not)
    out = finish(fallback, solver, cell, h0, xs, solver.solve(cell, h0, xs, guess))
    lin = Linearisation() if out.linearisation is None else out.linearisation
    return (out.states, out.result, dict(out.stats)), lin


@eqx.filter_jit
def _solve(solver: AbstractSolver, cell: FlatCell, h0, xs, guess, fallback, target: str):
    # `target` (the platform, static) keeps programs traced for different platforms apart.
    del target
    guess = None if guess is None else lax.stop_gradient(guess)
    # The adjoint owns differentiation: it wraps the solve.
    return solver.adjoint.apply(_primal, (cell, h0, xs), (solver, guess, fallback))


def unroll(
    cell: Callable[[Any, Any], Any],
    h0: PyTree[Inexact[Array, "..."]],
    xs: PyTree[Array],
    *,
    solver: AbstractSolver = Auto(),
    throw: bool = True,
    fallback: Literal["auto", "sequential", "elk"] | None = "auto",
    guess: PyTree[Inexact[Array, "T ..."]] | None = None,
    resets: Bool[Array, " T"] | None = None,
    reset_state: PyTree[Inexact[Array, "..."]] | None = None,
    precision: Any = None,
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
    - `fallback`: the failure policy. `"sequential"` re-solves a failed parallel solve with
        `lax.scan`, `"elk"` with damped Newton (`ELK`) and then `lax.scan` where that fails
        too, so the returned states are always exact; only the failed sequences of a batch
        are replaced, and nothing runs when none failed (`stats["fallback_used"]` says
        where it happened). `None`: no fallback. `"auto"` (default): `"sequential"` under
        `Auto()`, `None` for a solver chosen explicitly.
    - `guess`: an initial trajectory for Newton solvers (warm start), shaped like the states.
    - `resets`: a boolean array (T,) for packed sequences: where `resets[t]` is true, the
        state restarts from `reset_state` before step t (h_t = cell(reset_state, x_t)), so no
        state flows across the boundary. Every solver and adjoint supports it (the
        linearisation is cut at each boundary, at no extra cost).
    - `reset_state`: the state a reset restarts from, shaped like `h0`; `h0` by default.
    - `precision`: the dtype the solver works in (its states, linear recurrences, adjoint and
        residual). None: float32 when `h0` is bfloat16 or float16 (the cell still runs in
        `h0`'s dtype, the tolerances are that dtype's, the states come back in it), otherwise
        `h0`'s dtype. See docs/solvers.md, "Mixed precision".

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
    fs, T = validate(cell, h0, xs, guess, solver, fallback)
    if resets is not None:  # the cell restarts where `resets` holds (see `_resets.py`)
        cell, xs = with_resets(cell, h0, xs, resets, T, reset_state)
    state_dtype, dtype = fs.dtype, solver_dtype(fs.dtype, precision)
    if dtype != state_dtype:  # mixed precision (see `_precision.py`)
        cell, h0, guess = with_precision(cell, h0, guess, state_dtype, dtype)
        fs = flat_state(h0)
    fallback = resolve_fallback(fallback, solver)
    flat_cell = FlatCell(cell, fs)
    axes = varying_axes((cell, h0, xs))
    h0_flat = match_varying(fs.ravel(h0), axes)
    guess_flat = None if guess is None else match_varying(fs.ravel_trajectory(guess), axes)
    batch = vmap_batch_size((cell, h0, xs))
    if isinstance(solver, Auto):
        chosen_for = batch if solver.batch is None else solver.batch
        x0 = jax.tree_util.tree_map(lambda leaf: leaf[0], xs)
        solver = solver.select(cell, T, fs.size, batch=chosen_for, h0=h0, x=x0)
    if isinstance(solver, Sequential) and solver.cell_loop and batch > 1:
        # The LSTM's own loop, batched, took twice the plain scan's time (N = 64, batch 16).
        solver = dataclasses.replace(solver, cell_loop=False)
    solver = with_tolerances_of(solver, state_dtype, dtype)
    states, result, stats = _solve(solver, flat_cell, h0_flat, xs, guess_flat, fallback, platform())
    record(stats, solver)  # for `paratime.train`'s log, when tracing a training step
    if not throw:
        return Solution(fs.unravel_trajectory(states.astype(state_dtype)), result, stats)
    messages, input_message = failure_messages(solver, T, fs.size)
    params = tuple(x for x in jax.tree_util.tree_leaves(cell) if eqx.is_inexact_array(x))
    inputs = (h0_flat, tuple(jax.tree_util.tree_leaves(xs)), params)
    checked = check(
        states, result, stats, messages=messages, input_message=input_message, inputs=inputs
    )
    out = keep_check(fs.unravel_trajectory(checked.astype(state_dtype)), checked)
    return Solution(out, result, stats)
