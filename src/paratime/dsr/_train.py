"""DSR training: subsequence batches, GTF (constant or adaptive α), optax RAdam, resumable."""

import functools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .. import AbstractSolver, Auto
from .._engine._fallback import Fallback, check_fallback
from .._names import fallback_policy, make_solver
from ..data import check_series
from ..train import train
from ._config import FitSettings
from ._evaluate import _data_size
from ._gtf import adaptive_alpha, check_unforced, jacobian_kappa
from ._regularize import regularization
from ._select import BEST, MIN_VALIDATION, make_validator
from ._trajectories import as_trajectories, sample_windows_from, window_starts


class DSRState(eqx.Module):
    """What DSR training carries and checkpoints: model, optimiser state, key, α, and the
    model selection so far.

    The key is stored as raw key data (`jax.random.key_data`) so checkpoints can serialise it.
    `best_score` is the lowest validation score so far (by `FitSettings.select_on`; `inf`
    before the first validation or without one) and `best_step` the step it was reached at
    (-1: none); they are part of the checkpoint, so a resumed run selects the same best model
    as an uninterrupted one.
    """

    model: Any
    opt_state: Any
    key: Array
    alpha: Float[Array, ""]
    best_score: Float[Array, ""]
    best_step: Int[Array, ""]

    def __init__(self, model, opt_state, key, alpha, best_score=None, best_step=None):
        self.model, self.opt_state, self.key = model, opt_state, key
        self.alpha = jnp.asarray(alpha)
        dtype = self.alpha.dtype if jnp.issubdtype(self.alpha.dtype, jnp.floating) else float
        self.best_score = jnp.asarray(jnp.inf if best_score is None else best_score, dtype)
        self.best_step = jnp.asarray(-1 if best_step is None else best_step, jnp.int32)


@functools.lru_cache(maxsize=32)
def make_optimizer(
    learning_rate: float = 1e-3, steps: int = 1000, *, final_fraction: float = 0.1, clip=10.0
) -> optax.GradientTransformation:
    """RAdam with an exponentially decaying learning rate and global-norm gradient clipping.

    **Arguments:**

    - `learning_rate`: the initial learning rate.
    - `steps`: the number of steps over which it decays to `final_fraction` of itself.
    - `final_fraction`: the learning rate at the end, relative to the start.
    - `clip`: the global gradient-norm clip (`None`: no clipping, as in the GTF code).

    Calls with the same arguments return the same object, so jitted steps are reused.
    """
    if not (isinstance(learning_rate, int | float) and 0 < learning_rate < math.inf):
        raise ValueError(f"`learning_rate` must be a finite number > 0; got {learning_rate!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"`steps` must be a positive int; got {steps!r}.")
    if not (isinstance(final_fraction, int | float) and 0 < final_fraction <= 1):
        raise ValueError(f"`final_fraction` must be a number in (0, 1]; got {final_fraction!r}.")
    if clip is not None and not (isinstance(clip, int | float) and clip > 0):
        raise ValueError(f"`clip` must be a number > 0 or None; got {clip!r}.")
    schedule = optax.exponential_decay(learning_rate, steps, final_fraction)
    if clip is None:
        return optax.radam(schedule)
    return optax.chain(optax.clip_by_global_norm(clip), optax.radam(schedule))


def check_seq_len(data: np.ndarray | Array, seq_len: int, batch_size: int) -> None:
    """Raise `ValueError` if `seq_len` or `batch_size` do not fit `data` (shape (T, d))."""
    if not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"`seq_len` must be an integer ≥ 2; got {seq_len!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; got {batch_size!r}.")
    if data.shape[0] < seq_len:
        raise ValueError(
            f"the data has {data.shape[0]} time steps, too short for `seq_len`={seq_len}; "
            "use a shorter --seq-len or a longer series."
        )


def sample_windows(
    key: PRNGKeyArray, data: Float[Array, "T d"], seq_len: int, batch_size: int
) -> Float[Array, "B L d"]:
    """`batch_size` random subsequences of length `seq_len` (the whole series if it fits once)."""
    starts = jax.random.randint(key, (batch_size,), 0, data.shape[0] - seq_len + 1)
    return jax.vmap(lambda s: jax.lax.dynamic_slice_in_dim(data, s, seq_len))(starts)


def training_batch(
    key: PRNGKeyArray,
    data: Float[Array, "T d"],
    starts: Int[Array, " S"] | None,
    seq_len: int,
    batch_size: int,
    noise: float = 0.0,
) -> Float[Array, "B L d"]:
    """The windows of one training step: `batch_size` windows of `seq_len` points (from the
    allowed `starts` only, if given), plus Gaussian noise of std `noise` (0: none) drawn from
    a stream of its own, so the windows are the same whatever `noise` is."""
    if starts is None:
        batch = sample_windows(key, data, seq_len, batch_size)
    else:  # several trajectories, concatenated: only windows inside one of them
        batch = sample_windows_from(key, data, starts, seq_len, batch_size)
    if noise:
        noise_key = jax.random.fold_in(key, 1)
        batch = batch + noise * jax.random.normal(noise_key, batch.shape, batch.dtype)
    return batch


def initial_alpha(
    model: Any,
    data: Float[Array, "T d"],
    gtf: float | str,
    alpha0: float = 0.1,
    alpha_max: float = 1.0,
) -> Float[Array, ""]:
    """α at step 0: the constant, or for `"adaptive"` max(α_est, `alpha0`), at most
    `alpha_max`.

    α_est of a freshly initialised (contracting) model is often 0: starting aGTF there trains a
    free-running model, which collapses onto a fixed point or overflows on long sequences.
    """
    if not 0.0 <= alpha0 <= alpha_max <= 1.0:
        raise ValueError(
            f"`alpha0` and `alpha_max` must satisfy 0 <= alpha0 <= alpha_max <= 1; "
            f"got alpha0={alpha0!r}, alpha_max={alpha_max!r}."
        )
    if gtf == "adaptive":
        if not hasattr(model, "cell"):
            return jnp.zeros((), data.dtype)
        kappa = jacobian_kappa(model.cell, model.observation.lift(data))
        return jnp.clip(1.0 - 1.0 / kappa, alpha0, alpha_max).astype(data.dtype)
    alpha = float(gtf)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`gtf` must be 'adaptive' or a number in [0, 1]; got {gtf!r}.")
    return jnp.asarray(alpha, data.dtype)


def _loss(
    model,
    batch,
    alpha,
    solver,
    kappa,
    interval=1,
    reg=(0.0, 0.0),
    fallback: Fallback = "sequential",
    unforced: tuple[int, ...] = (),
    partial: bool = True,
):
    loss, aux = jax.vmap(
        lambda xb: model.gtf_loss(
            xb,
            alpha,
            solver,
            kappa=kappa,
            interval=interval,
            fallback=fallback,
            unforced=unforced,
            partial=partial,
        )
    )(batch)
    # κ of the batch is the largest over its subsequences (as in Hess et al. 2023), so α is
    # large enough for every one of them; the other diagnostics are averaged.
    reduce = {k: jnp.max if k == "kappa" else jnp.mean for k in aux}
    aux = {k: reduce[k](v) for k, v in aux.items()}
    loss = jnp.mean(loss)
    if reg[0] or reg[1]:
        penalty = regularization(model, *reg)
        aux["regularization"] = penalty
        loss = loss + penalty
    return loss, aux


@eqx.filter_jit
def _dsr_step(
    state, step, data, starts, optimizer, solver, seq_len, batch_size, adaptive, every, gamma,
    interval=1, reg=(0.0, 0.0), fallback: Fallback = "sequential", unforced=(), noise=0.0,
    alpha_max=1.0, partial=True,
):  # fmt: skip
    key = jax.random.fold_in(jax.random.wrap_key_data(state.key), step)
    batch = training_batch(key, data, starts, seq_len, batch_size, noise)
    # κ (for aGTF) only on the steps that update α: it costs more than the rest of the step.
    update_alpha = adaptive and (step % every == 0)
    (loss, aux), grads = eqx.filter_value_and_grad(_loss, has_aux=True)(
        state.model, batch, state.alpha, solver, update_alpha, interval, reg, fallback, unforced,
        partial,
    )  # fmt: skip
    params = eqx.filter(state.model, eqx.is_inexact_array)
    updates, opt_state = optimizer.update(grads, state.opt_state, params)
    model = eqx.apply_updates(state.model, updates)
    grad_norm = optax.tree.norm(grads)
    # A batch whose forced trajectory overflowed (a transiently expanding model) gives a
    # non-finite loss or gradient: skip that update instead of poisoning the weights with NaN.
    ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    keep = lambda new, old: jnp.where(ok, new, old) if eqx.is_array(new) else new
    model = jax.tree.map(keep, model, state.model)
    opt_state = jax.tree.map(keep, opt_state, state.opt_state)
    alpha = state.alpha
    if adaptive:
        new = adaptive_alpha(alpha, aux["kappa"], gamma=gamma, maximum=alpha_max)
        update = update_alpha & ok & jnp.isfinite(new)
        alpha = jnp.where(update, new, alpha)
        # A skipped step's forced trajectory overflowed: α is too small to keep it bounded
        # (an expanding initial model can overflow on every window, and then no step would
        # ever train). Force harder for the next step: 1 − α shrinks by a quarter (up to
        # alpha_max).
        alpha = jnp.where(ok, alpha, jnp.minimum(1 - 0.75 * (1 - alpha), alpha_max))
    metrics = {"loss": loss, "grad_norm": grad_norm, "alpha": state.alpha}
    metrics.update(aux)
    metrics["skipped"] = (~ok).astype(loss.dtype)
    new_state = DSRState(model, opt_state, state.key, alpha, state.best_score, state.best_step)
    return new_state, metrics


def make_dsr_step(
    data: Float[Array, "T d"],
    optimizer: optax.GradientTransformation,
    *,
    seq_len: int,
    batch_size: int = 1,
    solver: AbstractSolver = Auto(),
    adaptive: bool = False,
    alpha_every: int = 5,
    gamma: float = 0.999,
    alpha_max: float = 1.0,
    forcing_interval: int = 1,
    latent_regularization: float = 0.0,
    observation_regularization: float = 0.0,
    starts: Int[Array, " S"] | None = None,
    fallback: Fallback = "sequential",
    unforced: tuple[int, ...] = (),
    noise: float = 0.0,
    partial_forcing: bool = True,
):
    """The `(DSRState, step) -> (DSRState, metrics)` function for `paratime.train.train`.

    The batch of step k is drawn from `fold_in(state.key, k)`, so a resumed run sees the same
    batches. With `adaptive=True`, every `alpha_every` steps α is updated by `adaptive_alpha`
    from κ measured on the current batch's forced trajectories, and never exceeds `alpha_max`.
    The metrics are `loss`, `grad_norm`, `alpha` (the α used in this step), `newton_steps`,
    `kappa` (NaN on the steps that do not update α, where it is not computed), `failed` and
    `skipped` (1 where a non-finite loss or gradient left the weights and optimiser state
    unchanged; with `adaptive=True` α then grows, 1 − α shrinking by a quarter, so that an
    overflowing forced trajectory is forced harder next time), and `regularization` (the
    penalty, when a λ is > 0; `loss` includes it).
    With `forcing_interval` τ > 1 the forcing acts at every τ-th step only (sparse forcing;
    `gtf=1.0` with τ > 1 is sparse teacher forcing); `latent_regularization` and
    `observation_regularization` are the λ of `paratime.dsr.regularization`. With `starts`
    (the allowed window starts of several concatenated trajectories), windows are drawn from
    those only, so none crosses from one trajectory into the next. `fallback` is the failure
    policy of the forced solves (`paratime.unroll`; the default finishes a failed parallel
    solve with the sequential scan, for the failed windows only). The observed columns in
    `unforced` do not force the latent state (α = 0 on them; `DSRModel.forced_states`);
    `partial_forcing=False` forces the latent directions the data do not determine too,
    towards 0 (the GTF code's `partial_forcing = false`). With `noise` σ > 0, Gaussian noise
    of std σ is added to every window, forcing signal and targets alike (`training_batch`).
    """
    check_fallback(fallback, allow_auto=False)
    check_seq_len(data, seq_len if starts is None else 2, batch_size)
    if not isinstance(alpha_every, int) or alpha_every < 1:
        raise ValueError(f"`alpha_every` must be a positive integer; got {alpha_every!r}.")
    if isinstance(alpha_max, bool) or not (
        isinstance(alpha_max, int | float) and 0 <= alpha_max <= 1
    ):
        raise ValueError(f"`alpha_max` must be a number in [0, 1]; got {alpha_max!r}.")
    if isinstance(forcing_interval, bool) or not isinstance(forcing_interval, int):
        raise ValueError(f"`forcing_interval` must be a positive int; got {forcing_interval!r}.")
    if forcing_interval < 1:
        raise ValueError(f"`forcing_interval` must be a positive int; got {forcing_interval!r}.")
    if not isinstance(partial_forcing, bool):
        raise ValueError(f"`partial_forcing` must be True or False; got {partial_forcing!r}.")
    for name, value in (
        ("latent_regularization", latent_regularization),
        ("observation_regularization", observation_regularization),
        ("noise", noise),
    ):
        if not (isinstance(value, int | float) and 0 <= value < math.inf):
            raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    reg = (float(latent_regularization), float(observation_regularization))
    unforced = check_unforced(unforced, data.shape[-1])
    static = (
        solver, seq_len, batch_size, adaptive, alpha_every, gamma, forcing_interval, reg, fallback,
        unforced, float(noise), float(alpha_max), bool(partial_forcing),
    )  # fmt: skip
    starts = None if starts is None else jnp.asarray(starts)
    return lambda state, step: _dsr_step(state, jnp.asarray(step), data, starts, optimizer, *static)


def fit(
    model: Any,
    data: Float[Array, "T d"] | Sequence[Float[Array, "T d"]],
    settings: FitSettings = FitSettings(),
    *,
    key: PRNGKeyArray,
    solver: AbstractSolver | None = None,
    validation: Float[Array, "V d"] | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    **train_kwargs: Any,
) -> tuple[DSRState, list[dict[str, Any]]]:
    """Train a DSR model (`DSRModel` or `LinearSSM`) on a series with GTF, in parallel in time.

    ```python
    import jax, paratime
    from paratime import dsr

    x = paratime.data.lorenz63(2000, standardise=True, key=0)
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=50, key=jax.random.key(0))
    settings = dsr.FitSettings(steps=20, seq_len=100, batch_size=8)
    state, history = dsr.fit(model, x, settings, key=jax.random.key(1), progress=False)
    ```

    **Arguments:**

    - `model`: the model to train.
    - `data`: the training series, shape (T, d), or a list of trajectories (T_i, d) of
        different lengths: training windows are drawn only inside one trajectory (uniformly
        over all such windows), never across the end of one and the start of the next.
    - `settings`: how to train (`paratime.dsr.FitSettings`: steps, window length, batch, GTF,
        solver, learning rates, regularisation, model selection and budgets; a `TrainConfig`
        or a recipe, `paratime.dsr.recipes.recipe`, is one too). `steps` counts every step,
        including any before a resume. `solver` is a solver's name; `fallback` what finishes
        a failed parallel solve, for the failed windows only.
    - `key`: the base PRNG key; step k draws its batch from `fold_in(key, k)`.
    - `solver`: a solver object, in place of `settings.solver` (e.g. `paratime.DEER` with
        non-default settings).
    - `validation`: a held-out segment (V, d) for model selection (e.g. the end of the
        series, which `data` then excludes; `paratime.dsr.split_validation`). Every
        `settings.validate_every` steps and at the end, the model's free run is scored against
        it by D_stsp (or D_stsp and D_H, by `select_on`) from `validation_starts` starts spread
        over the state space (the worst or the mean, by `selection`); the state with the
        lowest score so far is kept in `out_dir/best.eqx` and its score and step in the state
        (`best_score`, `best_step`); `patience` stops the run once that many steps pass
        without a better score, and a run still improving at `steps` goes on, up to
        `extra_steps` more, until patience stops it. `None`: no selection (and no
        patience, no extra steps).
    - `out_dir`, `resume`, `**train_kwargs`: passed to `paratime.train.train` (checkpoints
        every `settings.checkpoint_every` steps, `metrics.jsonl`, progress bar showing loss
        and α; `time_limit` ends training after the step that spends it, validated and
        checkpointed).

    **Returns:**

    `(state, history)`: the final `DSRState` (with `.model` and `.alpha`) and the metrics log.

    **Raises:**

    `ValueError` for a bad `settings` (a `paratime.ConfigError` naming the field), `data`,
    or a `seq_len` or `batch_size` the data cannot supply.
    """
    if not isinstance(settings, FitSettings):
        raise TypeError(
            f"`settings` must be a paratime.dsr.FitSettings; got {type(settings).__name__}. "
            "Write dsr.fit(model, data, dsr.FitSettings(steps=..., seq_len=...), key=...)."
        )
    misplaced = sorted(set(train_kwargs) & set(FitSettings.field_names()))
    if misplaced:
        shown = ", ".join(f"{k}={train_kwargs[k]!r}" for k in misplaced)
        raise TypeError(
            f"`{misplaced[0]}` is a setting: pass it in `settings`, "
            f"dsr.fit(model, data, dsr.FitSettings({shown}), key=...)."
        )
    s = settings
    seq_len, batch_size = s.seq_len, s.batch_size
    solver = make_solver(s.solver) if solver is None else solver
    trajectories = as_trajectories(data)
    joined = trajectories[0] if len(trajectories) == 1 else np.concatenate(trajectories)
    d = _data_size(model)
    if d is not None and joined.shape[1] != d:
        raise ValueError(
            f"`data` has {joined.shape[1]} dimensions (columns), but the model observes {d}; "
            "build the model with data_size equal to the number of columns."
        )
    series = jnp.asarray(joined)
    starts = None
    if len(trajectories) == 1:
        check_seq_len(series, seq_len, batch_size)
    else:
        check_seq_len(series, 2, batch_size)
        starts = window_starts([x.shape[0] for x in trajectories], seq_len)
    first = next(x for x in trajectories if x.shape[0] >= seq_len)
    lr_final = s.lr / 10 if s.lr_final is None else s.lr_final
    optimizer = make_optimizer(
        s.lr, s.steps, final_fraction=lr_final / s.lr, clip=s.grad_clip or None
    )
    gtf = s.gtf_value()
    alpha = initial_alpha(
        model, jnp.asarray(first[:seq_len], series.dtype), gtf, s.alpha0, s.alpha_max
    )
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    state = DSRState(model, opt_state, jax.random.key_data(key), alpha)
    step_fn = make_dsr_step(
        series,
        optimizer,
        seq_len=seq_len,
        batch_size=batch_size,
        solver=solver,
        adaptive=gtf == "adaptive",
        alpha_every=s.alpha_every,
        gamma=s.alpha_decay,
        alpha_max=s.alpha_max,
        forcing_interval=s.forcing_interval,
        latent_regularization=s.latent_regularization,
        observation_regularization=s.observation_regularization,
        starts=None if starts is None else jnp.asarray(starts),
        fallback=fallback_policy(s.fallback),
        unforced=s.unforced_columns(),
        noise=s.training_noise,
        partial_forcing=s.partial_forcing,
    )
    if validation is not None:
        validation = jnp.asarray(check_series(np.asarray(validation), name="`validation`"))
        if validation.shape[1] != series.shape[1] or validation.shape[0] < MIN_VALIDATION:
            raise ValueError(
                f"`validation` must have shape (V, {series.shape[1]}) with V >= {MIN_VALIDATION}; "
                f"got {validation.shape}."
            )
        train_kwargs["validate"] = make_validator(
            validation,
            out_dir,
            starts=s.validation_starts,
            reduce=s.selection,
            patience=s.patience or None,
            box_starts=s.validation_box_starts,
            select_on=s.select_on,
            reference=np.asarray(joined),
        )
        train_kwargs["validate_every"] = s.validate_every
    if out_dir is not None and not resume:  # a fresh run: no best model of an earlier one
        (Path(out_dir) / BEST).unlink(missing_ok=True)
    train_kwargs.setdefault("show", ("loss", "alpha", "newton_steps"))
    train_kwargs.setdefault("description", "dsr")
    train_kwargs.setdefault("checkpoint_every", s.checkpoint_every)
    return train(
        step_fn,
        state,
        steps=s.max_steps(validation is not None),
        out_dir=out_dir,
        resume=resume,
        time_limit=s.time_limit_seconds(),
        **train_kwargs,
    )
