"""The baseline: the same architecture trained by BPTT (Adam, early stopping on validation)."""

import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

from .._engine import AbstractSolver, Sequential
from ..train import TrainState, make_step, train
from ._cells import canonical_arch, make_cell
from ._forecast import output_bounds
from ._model import Prepared, RecurrentModel


def _mse(model: RecurrentModel, U, F, Y, solver):
    return jnp.mean((model.predict_normalised(U, F, solver=solver) - Y) ** 2)


def initial_model(
    data: Prepared, *, arch: str, hidden: int, key: PRNGKeyArray, direct: bool, **cell_options
) -> RecurrentModel:
    """The network before training: `make_cell(arch, ...)` with `key`, and a zero readout."""
    D, K = data.inputs.shape[-1], data.targets.shape[-1]
    dtype = data.inputs.dtype
    cell = make_cell(arch, D, hidden, output_size=K, key=key, dtype=dtype, **cell_options)
    scaling = (data.in_mean, data.in_std, data.out_mean, data.out_std)
    arch, window = canonical_arch(arch), data.window
    train, val, _ = data.split
    bounds = output_bounds(data.targets[np.concatenate([train, val])])
    probe = RecurrentModel(cell, jnp.zeros((0, K), dtype), jnp.zeros(K, dtype), arch, window,
                           direct, *scaling, bounds)  # fmt: skip
    shape = jax.eval_shape(probe.hidden, data.inputs[:1], data.feedback[:1]).shape
    return eqx.tree_at(lambda m: m.beta, probe, jnp.zeros((shape[1], K), dtype))


def fit_bptt(
    data: Prepared,
    *,
    arch: str = "gru",
    hidden: int = 100,
    key: PRNGKeyArray,
    solver: AbstractSolver = Sequential(),
    direct: bool = True,
    learning_rate: float = 3e-3,
    batch_size: int = 128,
    max_steps: int = 2000,
    eval_every: int = 100,
    patience: int = 4,
    **cell_options,
) -> tuple[RecurrentModel, dict]:
    """Train every weight of the same network by backpropagation through time.

    The cell starts from the same random weights an ELM would use (`make_cell` with `key`)
    and the readout from zero. Minibatches of windows are drawn from `fold_in(key, step)`
    (so the run is reproducible), Adam updates all weights, and every `eval_every` steps the
    validation MSE decides early stopping: training ends after `patience` evaluations without
    improvement, or at `max_steps`, and the best model is returned. Gradients flow through
    `paratime.unroll` with `solver` (exact for every solver). Jordan, NARMAX and fully
    connected cells are trained with teacher forcing, as in the ELM.

    **Returns:**

    `(model, info)`; `info` has `train_seconds` (wall time of the loop after compilation),
    `cpu_seconds` (process CPU time of the loop),
    `compile_seconds`, `steps`, `best_step` and `best_val_mse`.
    """
    if min(max_steps, eval_every, batch_size, patience) < 1:
        raise ValueError("`max_steps`, `eval_every`, `batch_size` and `patience` must be >= 1.")
    train_idx, val_idx, _ = data.split
    if len(val_idx) == 0:
        raise ValueError("early stopping needs validation windows: use val_fraction > 0.")
    model = initial_model(data, arch=arch, hidden=hidden, key=key, direct=direct, **cell_options)
    U, F, Y = (jnp.asarray(a[train_idx]) for a in (data.inputs, data.feedback, data.targets))
    Uv, Fv, Yv = (jnp.asarray(a[val_idx]) for a in (data.inputs, data.feedback, data.targets))
    batch = min(batch_size, len(train_idx))

    def loss_fn(m, k):
        idx = jax.random.randint(k, (batch,), 0, U.shape[0])
        return _mse(m, U[idx], F[idx], Y[idx], solver)

    val_mse = eqx.filter_jit(lambda m: _mse(m, Uv, Fv, Yv, solver))
    optimizer = optax.adam(learning_rate)
    step_fn = make_step(loss_fn, optimizer)
    state = TrainState(model, optimizer.init(eqx.filter(model, eqx.is_inexact_array)), key)
    t0 = time.perf_counter()
    jax.block_until_ready(step_fn(state, 0)[1]["loss"])  # compile; the result is discarded
    jax.block_until_ready(val_mse(model))
    compile_seconds = time.perf_counter() - t0

    best, best_mse, best_step, stale, done = model, math.inf, 0, 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while done < max_steps and stale < patience:
        chunk = min(eval_every, max_steps - done)
        offset = done
        state, _ = train(
            lambda s, k: step_fn(s, k + offset), state, steps=chunk, progress=False,
            log_every=chunk,
        )  # fmt: skip
        done += chunk
        mse = float(val_mse(state.model))
        if not math.isfinite(mse):
            break
        if mse < best_mse:
            best, best_mse, best_step, stale = state.model, mse, done, 0
        else:
            stale += 1
    train_seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    info = {
        "train_seconds": train_seconds,
        "cpu_seconds": cpu_seconds,
        "compile_seconds": compile_seconds,
        "steps": done,
        "best_step": best_step,
        "best_val_mse": best_mse,
        "batch_size": batch,
        "learning_rate": learning_rate,
        "solver": type(solver).__name__,
        "stopped_early": bool(done < max_steps),
    }
    return best, info
