"""Dynamical-systems reconstruction: the PLRNN family trained with generalized teacher forcing.

The GTF-forced recurrence is solved by `paratime.unroll`, so training sequences of 10⁴-10⁵
steps run in parallel over time (Hess, Götz and Durstewitz 2026; Hess et al. 2023).
"""

from . import metrics as metrics
from ._build import MODELS as MODELS, build_model as build_model
from ._config import FitSettings as FitSettings, TrainConfig as TrainConfig
from ._evaluate import (
    NonFiniteTrajectoryError as NonFiniteTrajectoryError,
    evaluate as evaluate,
    generate as generate,
)
from ._gtf import (
    GTFCell as GTFCell,
    SparseGTFCell as SparseGTFCell,
    adaptive_alpha as adaptive_alpha,
    jacobian_kappa as jacobian_kappa,
)
from ._model import DSRModel as DSRModel
from ._models import (
    ALRNN as ALRNN,
    PLRNN as PLRNN,
    ShallowPLRNN as ShallowPLRNN,
    normalized_positive_definite as normalized_positive_definite,
)
from ._observation import (
    AbstractObservation as AbstractObservation,
    AffineObservation as AffineObservation,
    IdentityObservation as IdentityObservation,
)
from ._regularize import (
    latent_penalty as latent_penalty,
    observation_penalty as observation_penalty,
    regularization as regularization,
)
from ._restore import load_run as load_run, read_run_config as read_run_config
from ._select import (
    data_floor as data_floor,
    split_validation as split_validation,
    spread_starts as spread_starts,
    validation_scores as validation_scores,
)
from ._ssm import LinearSSM as LinearSSM
from ._train import (
    DSRState as DSRState,
    fit as fit,
    make_dsr_step as make_dsr_step,
    make_optimizer as make_optimizer,
)

__all__ = [
    "ALRNN",
    "AbstractObservation",
    "AffineObservation",
    "DSRModel",
    "DSRState",
    "FitSettings",
    "GTFCell",
    "IdentityObservation",
    "LinearSSM",
    "MODELS",
    "NonFiniteTrajectoryError",
    "PLRNN",
    "ShallowPLRNN",
    "SparseGTFCell",
    "TrainConfig",
    "adaptive_alpha",
    "build_model",
    "data_floor",
    "evaluate",
    "fit",
    "generate",
    "jacobian_kappa",
    "latent_penalty",
    "load_run",
    "make_dsr_step",
    "make_optimizer",
    "metrics",
    "normalized_positive_definite",
    "observation_penalty",
    "read_run_config",
    "regularization",
    "split_validation",
    "spread_starts",
    "validation_scores",
]
