"""The configuration of a DSR training run (`paratime dsr train`)."""

import dataclasses
from typing import ClassVar, Literal

from .._config import AbstractConfig
from .._names import SolverName
from ._build import ModelName, ObservationName


@dataclasses.dataclass(frozen=True)
class TrainConfig(AbstractConfig):
    """Everything that defines a DSR training run; validated on construction. Each field is a
    flag of `paratime dsr train` (`seq_len` -> `--seq-len`), its docstring the flag's help.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: str
    """Training series: a dataset name or a .npy/.csv/.txt path."""
    model: ModelName = "shplrnn"
    """The model (see `paratime.dsr.MODELS`)."""
    latent: int | None = None
    """Latent size M (default: the data's dimension)."""
    hidden: int = 200
    """Hidden width H."""
    observation: ObservationName = "identity"
    """Observation model: x = z[:d] (identity) or x = B z + b (affine)."""
    num_relu: int | None = None
    """ALRNN: the number of ReLU units P (default M - d)."""
    seq_len: int = 200
    """Training subsequence length."""
    batch_size: int = 16
    """Subsequences per step."""
    gtf: str = "adaptive"
    """'adaptive' or a constant α in [0, 1]."""
    solver: SolverName = "auto"
    """Solver of the recurrence."""
    steps: int = 5000
    """Optimiser steps."""
    lr: float = 1e-3
    """Initial RAdam learning rate."""
    lr_final: float | None = None
    """Learning rate at the last step (default lr/10)."""
    alpha0: float = 0.1
    """aGTF: smallest α."""
    alpha_every: int = 5
    """aGTF: update α every k steps."""
    seed: int = 0
    """Random seed."""
    checkpoint_every: int = 100
    """Checkpoint period (steps)."""
    validation: float = 0.1
    """Fraction held out at the end of the series for model selection (0: none)."""
    validate_every: int = 100
    """Score the model on the validation part every k steps."""
    data_size: int | None = None
    """The data's dimension, filled in when the data are read."""

    resumable: ClassVar[tuple[str, ...]] = ("steps", "solver", "checkpoint_every")
    internal: ClassVar[tuple[str, ...]] = ("data_size",)

    def __post_init__(self):
        self.check(
            "data", isinstance(self.data, str) and bool(self.data), "a path or name", self.data
        )
        self.check_choices()
        self.positive_int(
            "hidden", "batch_size", "steps", "alpha_every", "checkpoint_every", "validate_every"
        )
        v = self.validation
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1
        self.check("validation", ok, "a fraction in [0, 1) (0: no model selection)", v)
        self.positive_int("seq_len", minimum=2)
        for name in ("latent", "num_relu", "data_size"):
            if getattr(self, name) is not None:
                self.positive_int(name)
        self.positive_float("lr")
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

    def gtf_value(self) -> float | Literal["adaptive"]:
        """`"adaptive"` or the constant α as a float."""
        if self.gtf == "adaptive":
            return "adaptive"
        try:
            value = float(self.gtf)
        except (TypeError, ValueError):
            value = -1.0
        self.check("gtf", 0.0 <= value <= 1.0, "'adaptive' or a number in [0, 1]", self.gtf)
        return value
