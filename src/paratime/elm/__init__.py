"""Non-iterative (ELM) training of six recurrent architectures, with hidden states built in
parallel over time and the output layer solved by ridge least squares (Opt-PR-ELM)."""

from ._bptt import fit_bptt as fit_bptt
from ._cells import (
    ARCHITECTURES as ARCHITECTURES,
    NARMAX as NARMAX,
    FullyConnected as FullyConnected,
    Jordan as Jordan,
    make_cell as make_cell,
)
from ._config import FitConfig as FitConfig, FitSettings as FitSettings
from ._data import (
    Task as Task,
    autoregressive_task as autoregressive_task,
    io_task as io_task,
    load_task as load_task,
    windows as windows,
)
from ._evaluate import (
    ForecastDivergedWarning as ForecastDivergedWarning,
    evaluate as evaluate,
    rmse_nrmse as rmse_nrmse,
)
from ._forecast import (
    BOUNDS_MARGIN as BOUNDS_MARGIN,
    CONTEXT_MARGIN as CONTEXT_MARGIN,
    FAR as FAR,
    Forecast as Forecast,
    divergence as divergence,
    forecast as forecast,
    output_bounds as output_bounds,
)
from ._hidden import (
    ClosedLoop as ClosedLoop,
    closed_loop_outputs as closed_loop_outputs,
    hidden_matrix as hidden_matrix,
)
from ._io import load_model as load_model, save_model as save_model
from ._lstsq import (
    METHODS as METHODS,
    IllConditionedWarning as IllConditionedWarning,
    condition_number as condition_number,
    gcv_scores as gcv_scores,
    ridge as ridge,
    ridge_path as ridge_path,
    select_lambda_gcv as select_lambda_gcv,
    select_lambda_validation as select_lambda_validation,
    spectrum as spectrum,
)
from ._model import (
    Prepared as Prepared,
    RecurrentModel as RecurrentModel,
    fit as fit,
    predict as predict,
    prepare as prepare,
)
from ._select import multistep_scores as multistep_scores

__all__ = [
    "ARCHITECTURES",
    "BOUNDS_MARGIN",
    "CONTEXT_MARGIN",
    "ClosedLoop",
    "FAR",
    "FitConfig",
    "FitSettings",
    "Forecast",
    "ForecastDivergedWarning",
    "FullyConnected",
    "IllConditionedWarning",
    "Jordan",
    "METHODS",
    "NARMAX",
    "Prepared",
    "RecurrentModel",
    "Task",
    "autoregressive_task",
    "closed_loop_outputs",
    "condition_number",
    "divergence",
    "evaluate",
    "fit",
    "fit_bptt",
    "forecast",
    "gcv_scores",
    "hidden_matrix",
    "io_task",
    "load_model",
    "load_task",
    "make_cell",
    "multistep_scores",
    "output_bounds",
    "predict",
    "prepare",
    "ridge",
    "ridge_path",
    "rmse_nrmse",
    "save_model",
    "select_lambda_gcv",
    "select_lambda_validation",
    "spectrum",
    "windows",
]
