"""RMSE and NRMSE on the held-out tail: one step ahead and closed loop, with the baselines
(the training mean and persistence) and a flag for closed loops that diverge."""

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._engine import AbstractSolver, Sequential
from ._cells import uses_feedback
from ._forecast import divergence, forecast
from ._model import Prepared, RecurrentModel, predict
from ._select import origins


class ForecastDivergedWarning(UserWarning):
    """A closed-loop forecast went NaN/Inf or far outside the data range."""


def rmse_nrmse(pred, true) -> tuple[float, float]:
    """RMSE over all entries, and NRMSE: the RMSE of each column divided by that column's
    standard deviation in `true`, averaged in quadrature."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    err = (pred - true).reshape(-1, true.shape[-1])
    std = true.reshape(-1, true.shape[-1]).std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return float(np.sqrt(np.mean(err**2))), float(np.sqrt(np.mean((err / std) ** 2)))


def _nrmse(pred, true) -> float:
    """NRMSE with the standard deviation of all of `true` (flattened over origins and steps),
    so that predicting the mean of `true` scores 1."""
    return rmse_nrmse(pred, true)[1]


def evaluate(
    model: RecurrentModel,
    data: Prepared,
    *,
    horizon: int = 20,
    max_origins: int = 64,
    part: str = "test",
    solver: AbstractSolver = Sequential(),
    bounded: bool = True,
) -> dict[str, float]:
    """Errors in original units on a part of `data` (default: the held-out test tail).

    **Arguments:**

    - `model`, `data`: a fitted model and the data it was prepared from.
    - `horizon`, `max_origins`: the closed-loop forecast runs `horizon` steps from up to
        `max_origins` evenly spaced origins in the part.
    - `part`: `"train"`, `"val"` or `"test"`.
    - `solver`: the `paratime` solver inside each window.
    - `bounded`: clip fed-back predictions to `model.bounds` (see `forecast`).

    **Returns:**

    - `rmse`, `nrmse`: one step ahead (Jordan/NARMAX/fully connected with the observed
        previous outputs fed back).
    - `rmse_multistep`, `nrmse_multistep`: for an autoregressive task the closed-loop
        forecast `horizon` steps ahead; for an input-output task the free run, where
        feedback cells see only their own outputs (`horizon` is then 0).
    - `nrmse_mean`, `nrmse_multistep_mean`: the same errors when the training mean is
        predicted (about 1).
    - `nrmse_persistence`, `nrmse_multistep_persistence`: when the last observed value is
        repeated (NaN for a free run, where no output is observed).
    - `multistep_diverged`: how many closed-loop runs went NaN/Inf or more than `FAR`
        bound-widths outside the bounds; `multistep_clipped`: the fraction of forecast
        steps at which the clip to the bounds was active.

    **Warns:**

    `ForecastDivergedWarning` when `multistep_diverged` > 0.
    """
    parts: dict[str, Any] = dict(zip(("train", "val", "test"), data.split))
    idx = parts[part]
    if len(idx) == 0:
        raise ValueError(f"the {part} part of `data` is empty.")
    U, F = jnp.asarray(data.inputs[idx]), jnp.asarray(data.feedback[idx])
    truth = np.asarray(model.denormalise(jnp.asarray(data.targets[idx])))
    pred = model.denormalise(predict(model, U, F, solver=solver))
    rmse, nrmse = rmse_nrmse(pred, truth)
    mean = np.broadcast_to(np.asarray(model.out_mean), truth.shape)
    last = np.asarray(model.denormalise(F[:, -1]))  # the previous output y_{t-1}
    out = {
        "rmse": rmse,
        "nrmse": nrmse,
        "nrmse_mean": _nrmse(mean, truth),
        "nrmse_persistence": _nrmse(last, truth),
        "test_windows": int(len(idx)),
    }
    if data.autoregressive:
        horizon = int(min(horizon, len(idx)))
        starts = origins(len(idx), horizon, max_origins)
        ctx = jnp.asarray(data.inputs[idx[starts]])
        result = forecast(model, ctx, horizon, solver=solver, bounded=bounded)
        true_fut = np.asarray(
            model.denormalise(
                jnp.asarray(np.stack([data.targets[idx[o : o + horizon]] for o in starts]))
            )
        )
        m_rmse, m_nrmse = rmse_nrmse(model.denormalise(result.values), true_fut)
        persist = np.broadcast_to(np.asarray(model.denormalise(ctx[:, -1:])), true_fut.shape)
        diverged = int(np.sum(np.asarray(result.diverged)))
        out |= {
            "rmse_multistep": m_rmse,
            "nrmse_multistep": m_nrmse,
            "nrmse_multistep_mean": _nrmse(np.broadcast_to(mean[:1], true_fut.shape), true_fut),
            "nrmse_multistep_persistence": _nrmse(persist, true_fut),
            "multistep_diverged": diverged,
            "multistep_clipped": float(
                np.sum(np.asarray(result.clipped)) / (len(starts) * horizon)
            ),
            "horizon": horizon,
        }
    else:
        if uses_feedback(model.cell):
            free = predict(model, U, None, first_feedback=F[:, 0], solver=solver, bounded=bounded)
            diverged = int(np.sum(np.asarray(divergence(free[:, None], model.bounds))))
            m_rmse, m_nrmse = rmse_nrmse(model.denormalise(free), truth)
        else:
            diverged, m_rmse, m_nrmse = 0, rmse, nrmse
        out |= {
            "rmse_multistep": m_rmse,
            "nrmse_multistep": m_nrmse,
            "nrmse_multistep_mean": out["nrmse_mean"],
            "nrmse_multistep_persistence": float("nan"),
            "multistep_diverged": diverged,
            "multistep_clipped": float("nan"),
            "horizon": 0,
        }
    if out["multistep_diverged"]:
        warnings.warn(
            f"{out['multistep_diverged']} closed-loop runs of the {model.arch} model went "
            "NaN/Inf or far outside the data range (NRMSE "
            f"{out['nrmse_multistep']:.3g}); `bounded=True` clips the fed-back outputs, and "
            "`fit` with `FitSettings(lam='multistep')` chooses λ for the closed loop.",
            ForecastDivergedWarning,
            stacklevel=2,
        )
    return out
