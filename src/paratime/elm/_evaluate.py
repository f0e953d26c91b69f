"""RMSE and NRMSE on the held-out tail: one-step-ahead and closed-loop multi-step."""

import jax.numpy as jnp
import numpy as np

from .._solver import AbstractSolver, Sequential
from ._cells import uses_feedback
from ._model import Prepared, RecurrentModel, forecast, predict


def rmse_nrmse(pred, true) -> tuple[float, float]:
    """RMSE over all entries, and NRMSE: the RMSE of each column divided by that column's
    standard deviation in `true`, averaged in quadrature."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    err = (pred - true).reshape(-1, true.shape[-1])
    std = true.reshape(-1, true.shape[-1]).std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return float(np.sqrt(np.mean(err**2))), float(np.sqrt(np.mean((err / std) ** 2)))


def evaluate(
    model: RecurrentModel,
    data: Prepared,
    *,
    horizon: int = 20,
    max_origins: int = 64,
    part: str = "test",
    solver: AbstractSolver = Sequential(),
) -> dict[str, float]:
    """Errors in original units on a part of `data` (default: the held-out test tail).

    **Returns:**

    `rmse`, `nrmse` (one step ahead; Jordan/NARMAX/fully connected with the observed
    previous outputs fed back), and `rmse_multistep`, `nrmse_multistep`: for an
    autoregressive task the closed-loop forecast `horizon` steps ahead from up to
    `max_origins` evenly spaced origins in the part; for an input-output task the
    closed-loop (free-run) prediction, where feedback cells see only their own outputs.
    """
    idx = dict(zip(("train", "val", "test"), data.split))[part]
    if len(idx) == 0:
        raise ValueError(f"the {part} part of `data` is empty.")
    U, F = jnp.asarray(data.inputs[idx]), jnp.asarray(data.feedback[idx])
    truth = model.denormalise(jnp.asarray(data.targets[idx]))
    pred = model.denormalise(predict(model, U, F, solver=solver))
    rmse, nrmse = rmse_nrmse(pred, truth)
    out = {"rmse": rmse, "nrmse": nrmse, "test_windows": int(len(idx))}
    if data.autoregressive:
        horizon = int(min(horizon, len(idx)))
        last = len(idx) - horizon
        origins = np.unique(np.linspace(0, last, min(max_origins, last + 1)).astype(int))
        ctx = jnp.asarray(data.inputs[idx[origins]])
        fut = forecast(model, ctx, horizon, solver=solver)
        true_fut = np.stack([data.targets[idx[o : o + horizon]] for o in origins])
        m_rmse, m_nrmse = rmse_nrmse(model.denormalise(fut), model.denormalise(true_fut))
        out |= {"rmse_multistep": m_rmse, "nrmse_multistep": m_nrmse, "horizon": horizon}
    elif uses_feedback(model.cell):
        free = predict(model, U, None, first_feedback=F[:, 0], solver=solver)
        m_rmse, m_nrmse = rmse_nrmse(model.denormalise(free), truth)
        out |= {"rmse_multistep": m_rmse, "nrmse_multistep": m_nrmse, "horizon": 0}
    else:
        out |= {"rmse_multistep": rmse, "nrmse_multistep": nrmse, "horizon": 0}
    return out
