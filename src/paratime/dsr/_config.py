"""The configuration of a DSR training run (`paratime dsr train`)."""

import dataclasses
import math
from typing import ClassVar

from .._config import AbstractConfig
from .._names import SOLVER_NAMES
from ._build import MODELS, OBSERVATIONS


@dataclasses.dataclass(frozen=True)
class TrainConfig(AbstractConfig):
    """Everything that defines a DSR training run; validated on construction.

    **Fields:** `data` (a path or dataset name), `model` (one of `paratime.dsr.MODELS`),
    `latent` (latent size M; `None`: the data's dimension), `hidden`, `observation`
    (`"identity"` or `"affine"`), `num_relu` (ALRNN only), `seq_len`, `batch_size`, `gtf`
    (`"adaptive"` or a constant α in [0, 1]), `solver` (a `paratime.SolverName`), `steps`,
    `lr`, `lr_final` (the learning rate at the last step; `None`: `lr`/10), `alpha0`,
    `alpha_every`, `forcing_interval` (force every k-th step only; with `gtf = 1.0`: sparse
    teacher forcing), `latent_regularization` and `observation_regularization` (the GTF
    code's λ), `grad_clip` (global gradient-norm clip; 0: none), `seed`, `checkpoint_every`,
    `validation` (the fraction of the series held out at its end for model selection; 0:
    none), `validate_every`, `validation_starts` (free
    runs per validation, from starts spread over the state space), `validation_box_starts` (more
    runs from points off the data, in its bounding box), `selection` (`"worst"` or
    `"mean"` of those runs' D_stsp), `patience` (stop after this many steps without a better
    validation score; 0: never), `time_limit` (a wall-clock budget in seconds; `None`:
    none), and `data_size` (the data's dimension, filled in when the data are read).

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: str
    model: str = "shplrnn"
    latent: int | None = None
    hidden: int = 200
    observation: str = "identity"
    num_relu: int | None = None
    seq_len: int = 200
    batch_size: int = 16
    gtf: str = "adaptive"
    solver: str = "auto"
    steps: int = 5000
    lr: float = 1e-3
    lr_final: float | None = None
    alpha0: float = 0.1
    alpha_every: int = 5
    forcing_interval: int = 1
    latent_regularization: float = 0.0
    observation_regularization: float = 0.0
    grad_clip: float = 10.0
    seed: int = 0
    checkpoint_every: int = 100
    validation: float = 0.1
    validate_every: int = 100
    validation_starts: int = 16
    validation_box_starts: int = 0
    selection: str = "worst"
    patience: int = 2000
    time_limit: float | None = None
    data_size: int | None = None

    resumable: ClassVar[tuple[str, ...]] = (
        "steps",
        "solver",
        "checkpoint_every",
        "time_limit",
    )

    def __post_init__(self):
        self.check(
            "data", isinstance(self.data, str) and bool(self.data), "a path or name", self.data
        )
        self.one_of("model", MODELS)
        self.one_of("observation", OBSERVATIONS)
        self.one_of("solver", SOLVER_NAMES)
        self.one_of("selection", ("worst", "mean"))
        self.positive_int(
            "hidden",
            "batch_size",
            "steps",
            "alpha_every",
            "checkpoint_every",
            "validate_every",
            "forcing_interval",
            "validation_starts",
        )
        v = self.validation
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1
        self.check("validation", ok, "a fraction in [0, 1) (0: no model selection)", v)
        self.positive_int("seq_len", minimum=2)
        self.positive_int("patience", "validation_box_starts", minimum=0)
        for name in ("latent", "num_relu", "data_size"):
            if getattr(self, name) is not None:
                self.positive_int(name)
        self.positive_float("lr")
        for name in ("latent_regularization", "observation_regularization", "grad_clip"):
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < math.inf
            self.check(name, ok, "a finite number >= 0", v)
        if self.time_limit is not None:
            self.positive_float("time_limit")
        if self.lr_final is not None:
            f = self.lr_final
            ok = isinstance(f, int | float) and not isinstance(f, bool) and 0 < f <= self.lr
            self.check("lr_final", ok, f"a number in (0, lr={self.lr}]", f)
        a0 = self.alpha0
        self.check("alpha0", isinstance(a0, int | float) and 0 <= a0 <= 1, "in [0, 1]", a0)
        self.check("seed", isinstance(self.seed, int), "an integer", self.seed)
        if isinstance(self.gtf, int | float) and not isinstance(self.gtf, bool):
            object.__setattr__(self, "gtf", str(float(self.gtf)))  # `gtf = 0.2` in TOML
        self.gtf_value()

    def gtf_value(self) -> float | str:
        """`"adaptive"` or the constant α as a float."""
        if self.gtf == "adaptive":
            return "adaptive"
        try:
            value = float(self.gtf)
        except (TypeError, ValueError):
            value = -1.0
        self.check("gtf", 0.0 <= value <= 1.0, "'adaptive' or a number in [0, 1]", self.gtf)
        return value
