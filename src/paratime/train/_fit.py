"""The common case: minimise `loss_fn(model, key)` with an optax optimiser."""

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray

from .._engine._record import SolveLog, recording
from ._loop import train

_M = TypeVar("_M")


def _check_optimizer(optimizer: Any) -> None:
    init, update = getattr(optimizer, "init", None), getattr(optimizer, "update", None)
    if not (callable(init) and callable(update)):
        raise TypeError(
            "`optimizer` must be an optax GradientTransformation (with `init` and `update`), "
            f"e.g. optax.adam(1e-3); got {optimizer!r}."
        )


def _check_key(key: Any) -> None:
    typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    raw = isinstance(key, jax.Array | np.ndarray) and key.dtype == np.uint32 and key.shape == (2,)
    if not (typed and key.shape == ()) and not raw:
        raise TypeError(f"`key` must be a single PRNG key, e.g. jax.random.key(0); got {key!r}.")


def _check_loss_fn(loss_fn: Any) -> None:
    """`loss_fn` must be callable as `loss_fn(model, key)`."""
    if not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be callable `(model, key) -> loss`; got {loss_fn!r}.")
    try:
        signature = inspect.signature(loss_fn)
    except (TypeError, ValueError):  # no signature to read (some builtins): trust the caller
        return
    try:
        signature.bind(None, None)
    except TypeError as e:
        name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
        raise TypeError(
            f"`loss_fn` must take two positional arguments, `(model, key)`, and return a "
            f"scalar loss or `(loss, metrics)`; `{name}{signature}` cannot ({e}). Draw the "
            "batch from `key` inside it, or ignore `key` (`def loss(model, key): ...`)."
        ) from None


class TrainState(eqx.Module):
    """What the optax loop carries (and checkpoints): the model, the optimiser state, a key."""

    model: Any
    opt_state: Any
    key: PRNGKeyArray


def make_step(
    loss_fn: Callable[[Any, PRNGKeyArray], Any], optimizer: optax.GradientTransformation
) -> Callable[[TrainState, int], tuple[TrainState, dict[str, Array]]]:
    """Build a jitted `(state, step) -> (state, metrics)` for `paratime.train.train`.

    **Arguments:**

    - `loss_fn`: `(model, key) -> loss` or `(model, key) -> (loss, metrics_dict)`. The key
        is `fold_in(state.key, step)`, so batches drawn from it are reproducible on resume.
    - `optimizer`: an optax gradient transformation.

    **Returns:**

    The step function. Its metrics contain `loss` and `grad_norm`, plus those of `loss_fn`.
    Its `solve_log` attribute (a `SolveLog`) collects what the parallel solves inside
    `loss_fn` reported (every `paratime.unroll` with an iterative solver, so every
    `paratime.nn` layer): `paratime.train.train` adds `newton_iters`, `fallbacks` and
    `residual` to each logged step from it.
    """

    _check_loss_fn(loss_fn)
    _check_optimizer(optimizer)

    def wrapped(model, key):
        out = loss_fn(model, key)
        loss, aux = out if isinstance(out, tuple) else (out, {})
        if jnp.shape(loss) != ():
            raise TypeError(
                "`loss_fn` must return a scalar loss (or `(loss, metrics)`); got a loss of "
                f"shape {jnp.shape(loss)}."
            )
        return loss, aux

    log = SolveLog()

    @eqx.filter_jit
    def jitted(state: TrainState, step: Array):
        key = jax.random.fold_in(state.key, step)
        with recording(log, step):  # the solves traced here report to `log`
            value_and_grad = eqx.filter_value_and_grad(wrapped, has_aux=True)
            (loss, aux), grads = value_and_grad(state.model, key)
        params = eqx.filter(state.model, eqx.is_inexact_array)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        model = eqx.apply_updates(state.model, updates)
        metrics = {"loss": loss, "grad_norm": optax.tree_utils.tree_norm(grads), **aux}
        return TrainState(model, opt_state, state.key), metrics

    def step_fn(state: TrainState, step: int):
        return jitted(state, jnp.asarray(step))

    step_fn.solve_log = log  # type: ignore[attr-defined]
    return step_fn


def fit(
    loss_fn: Callable[[_M, PRNGKeyArray], Any],
    model: _M,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    key: PRNGKeyArray,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    **train_kwargs: Any,
) -> tuple[_M, list[dict[str, Any]]]:
    """Train `model` to minimise `loss_fn` with `optimizer`; resumable and with progress.

    **Arguments:**

    - `loss_fn`: called as `loss_fn(model, key)` at every step, with the current `model`
        and that step's key `fold_in(key, step)` (draw the step's batch from it, so a resumed
        run sees the same batches; ignore it if the loss is deterministic). It returns a
        scalar loss, or `(loss, metrics)` with `metrics` a dict of scalars to log. It is
        differentiated with respect to the model's floating-point arrays.
    - `model`: an Equinox module (or any PyTree whose inexact arrays are the parameters).
    - `optimizer`: an optax optimiser, e.g. `optax.radam(1e-3)`.
    - `steps`: total optimiser steps.
    - `key`: base PRNG key; step k uses `fold_in(key, k)`.
    - `out_dir`, `resume`, `**train_kwargs`: passed to `paratime.train.train`.

    **Returns:**

    `(model, history)`.

    **Raises:**

    `TypeError`/`ValueError` naming the argument for a `loss_fn` that is not callable as
    `loss_fn(model, key)`, an
    `optimizer` that is not an optax transformation, a `key` that is not a PRNG key, a
    `model` without floating-point arrays, or a bad `steps` (see `paratime.train.train`).

    **Example:**

    ```python
    import jax, jax.numpy as jnp, optax, paratime

    model = paratime.nn.RNN(paratime.cells.GRU(1, 8, key=jax.random.key(0)))

    def loss(model, key):
        xs = jax.random.normal(key, (50, 1))
        return jnp.mean((model(xs)[:, 0] - jnp.cumsum(xs[:, 0]) / 10) ** 2)

    model, history = paratime.train.fit(
        loss, model, optax.adam(1e-2), steps=20, key=jax.random.key(1), progress=False
    )
    ```
    """
    _check_loss_fn(loss_fn)
    _check_optimizer(optimizer)
    _check_key(key)
    params = eqx.filter(model, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(params):
        raise ValueError(
            "`model` has no floating-point arrays to train (its parameters must be inexact "
            f"JAX/NumPy arrays); got {type(model).__name__}."
        )
    state = TrainState(model, optimizer.init(params), key)
    state, history = train(
        make_step(loss_fn, optimizer),
        state,
        steps=steps,
        out_dir=out_dir,
        resume=resume,
        **train_kwargs,
    )
    return state.model, history
