"""The settings of DSR training (`dsr.fit`) and the configuration of a run (`paratime dsr
train`), declared once: `FitSettings` holds how to train, `TrainConfig` adds what to train on
and which model; every field is a flag of the command line."""

import dataclasses
import math
from typing import ClassVar, Literal

from .._config import AbstractConfig
from .._names import FallbackName, SolverName
from ._build import ModelName, ObservationName


@dataclasses.dataclass(frozen=True)
class FitSettings(AbstractConfig):
    """How `paratime.dsr.fit` trains: every setting of GTF training, validated on
    construction. `paratime dsr train` takes the same settings as flags (`seq_len` ->
    `--seq-len`), and `TrainConfig` (a subclass) adds the data and the model.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    seq_len: int = 200
    """Training subsequence length."""
    batch_size: int = 16
    """Subsequences per step."""
    gtf: str = "adaptive"
    """'adaptive' or a constant α in [0, 1]."""
    solver: SolverName = "auto"
    """Solver of the recurrence."""
    fallback: FallbackName = "sequential"
    """What finishes a parallel solve that failed, for the failed windows only (none: the
    step keeps the failed states; the `failed` metric counts them)."""
    steps: int = 5000
    """Optimiser steps (the learning rate reaches lr_final here)."""
    extra_steps: int | None = None
    """Past `steps`, train up to this many more while the validation score still improves,
    until patience ends the run (with validation and patience only; the learning rate goes
    on decaying at the same rate; default: as many as `steps`; 0: stop at `steps`)."""
    lr: float = 1e-3
    """Initial RAdam learning rate."""
    lr_final: float | None = None
    """Learning rate at the last step (default lr/10)."""
    alpha0: float = 0.1
    """aGTF: smallest α at step 0 (α starts at max(α_est, alpha0))."""
    alpha_max: float = 1.0
    """aGTF: largest α (1: none, as in the GTF papers)."""
    alpha_every: int = 5
    """aGTF: update α every k steps."""
    alpha_decay: float = 0.999
    """aGTF: decay γ of α between updates (α ← γ α + (1 - γ) α_est when α_est < α)."""
    forcing_interval: int = 1
    """Force every k-th step only (with --gtf 1: sparse teacher forcing, STF)."""
    unforced: str | None = None
    """Observed columns that do not force the model (α = 0 on them), comma-separated from 0,
    e.g. 3 for a slow fourth variable."""
    partial_forcing: bool = True
    """Force only the latent directions the data determine (the observed units); false: all
    of them, the others towards 0 (the GTF code's partial_forcing = false)."""
    latent_regularization: float = 0.0
    """λ of the latent-model weight penalty (the GTF code's lat_model_regularization)."""
    observation_regularization: float = 0.0
    """λ of the observation-model penalty (the GTF code's obs_model_regularization)."""
    training_noise: float = 0.0
    """Std of Gaussian noise added to every training window, forcing signal and targets
    alike, in the data's units (the GTF code's gaussian_noise_level; 0: none)."""
    grad_clip: float = 10.0
    """Global gradient-norm clip (0: none)."""
    checkpoint_every: int = 100
    """Checkpoint period (steps)."""
    validate_every: int = 100
    """Score the model on the validation part every k steps."""
    validation_starts: int = 16
    """Free runs per validation, from starts spread over the state space."""
    validation_box_starts: int = 0
    """More validation runs from points off the data, in its bounding box."""
    selection: Literal["worst", "mean"] = "worst"
    """Score a model by the worst or the mean of its validation runs."""
    select_on: Literal["D_stsp", "both"] = "D_stsp"
    """Select by D_stsp (as the GTF code), or by D_stsp and D_H, each over the training
    data's own score against the validation part (both: for short or high-dimensional data,
    whose state-space histogram is too sparse to rank models)."""
    patience: int = 2000
    """Stop after this many steps without a better validation score (0: never)."""
    time_limit: str | None = None
    """Wall-clock budget: seconds, or with a unit (90s, 10m, 2h)."""

    resumable: ClassVar[tuple[str, ...]] = (
        "steps", "extra_steps", "solver", "fallback", "checkpoint_every", "time_limit",
    )  # fmt: skip

    def __post_init__(self):
        self.check_choices()
        self.positive_int(
            "batch_size",
            "steps",
            "alpha_every",
            "checkpoint_every",
            "validate_every",
            "forcing_interval",
            "validation_starts",
        )
        self.positive_int("seq_len", minimum=2)
        self.positive_int("patience", "validation_box_starts", minimum=0)
        if self.extra_steps is not None:
            self.positive_int("extra_steps", minimum=0)
        self.positive_float("lr")
        self.nonnegative_float(
            "latent_regularization", "observation_regularization", "training_noise", "grad_clip"
        )
        self.boolean("partial_forcing")
        if self.time_limit is not None:
            self.time_limit_seconds()
        if isinstance(self.unforced, int) and not isinstance(self.unforced, bool):
            object.__setattr__(self, "unforced", str(self.unforced))  # `unforced = 3` in TOML
        self.unforced_columns()
        if self.lr_final is not None:
            f = self.lr_final
            ok = isinstance(f, int | float) and not isinstance(f, bool) and 0 < f <= self.lr
            self.check("lr_final", ok, f"a number in (0, lr={self.lr}]", f)
        for name in ("alpha0", "alpha_max", "alpha_decay"):
            a = getattr(self, name)
            ok = isinstance(a, int | float) and not isinstance(a, bool) and 0 <= a <= 1
            self.check(name, ok, "in [0, 1]", a)
        self.check(
            "alpha0", self.alpha0 <= self.alpha_max, f"<= alpha_max={self.alpha_max}", self.alpha0
        )
        if isinstance(self.gtf, int | float) and not isinstance(self.gtf, bool):
            object.__setattr__(self, "gtf", str(float(self.gtf)))  # `gtf = 0.2` in TOML
        self.gtf_value()

    def max_steps(self, validated: bool) -> int:
        """The most steps a run trains: `steps`, and `extra_steps` more if it is `validated`
        (has a validation part) and `patience` can end it."""
        if not (validated and self.patience):
            return self.steps
        return self.steps + (self.steps if self.extra_steps is None else self.extra_steps)

    def time_limit_seconds(self) -> float | None:
        """`time_limit` in seconds (`"600"`, `"90s"`, `"10m"`, `"2h"`; a number in TOML)."""
        if self.time_limit is None:
            return None
        text = str(self.time_limit).strip().lower()
        scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text[-1:])
        try:
            seconds = float(text[:-1] if scale is not None else text) * (scale or 1.0)
        except ValueError:
            seconds = -1.0
        ok = 0 < seconds < math.inf
        self.check("time_limit", ok, "a duration like 600, 90s, 10m or 2h", self.time_limit)
        return seconds

    def unforced_columns(self) -> tuple[int, ...]:
        """`unforced` as a sorted tuple of column indices (`"3"`, `"0,2"`; an int in TOML)."""
        if self.unforced is None:
            return ()
        parts = str(self.unforced).replace(" ", "").split(",")
        ok = all(p.isdigit() for p in parts) and len(set(parts)) == len(parts)
        self.check("unforced", ok, "distinct column indices like 3 or 0,2", self.unforced)
        return tuple(sorted(int(p) for p in parts))

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig(FitSettings):
    """Everything that defines a DSR training run: the data and the model, and how to train
    it (the fields of `FitSettings`); validated on construction. Each field is a flag of
    `paratime dsr train` (`seq_len` -> `--seq-len`), its docstring the flag's help.

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
    hidden_estimate: bool = False
    """Identity model with latent > d: learn L so that each window and free run starts its
    hidden units at L x (the GTF code's identity model); false: at 0."""
    num_relu: int | None = None
    """ALRNN: the number of ReLU units P (default M - d)."""
    seed: int = 0
    """Random seed."""
    validation: float = 0.1
    """Fraction held out at the end of the series for model selection (0: none)."""
    on_overflow: Literal["bounded", "keep"] = "bounded"
    """If free runs of an unbounded model overflow at half of the validations or more:
    bounded trains the clipped shPLRNN in its place (aGTF with α <= 0.3, selection on D_stsp
    and D_H, 4 × the steps) from up to bounded_restarts seeds and keeps the one whose model
    scores best on validation by the mean over its free runs; keep: the run's own selection
    (usually an early model)."""
    bounded_restarts: int = 8
    """The most seeds of the bounded model that on_overflow = bounded trains (seed + 1000 j),
    one after the other until one reaches bounded_target."""
    bounded_target: float = 3.0
    """The bounded model's restarts stop at the first whose validation score (D_stsp / floor
    + D_H / floor; 2 is the data's own floor) is below this (0: train all bounded_restarts)."""
    restarts: int = 2
    """If the selected model (not replaced by the bounded one) scores above restart_target on
    validation, train the same model from up to this many more seeds (seed + 1000 j), one
    after the other until one scores at or below it, and keep the best of all (0: none)."""
    restart_target: float = 3.0
    """The score that restarts compare with: D_stsp / floor + D_H / floor, each the mean over
    the validation free runs (2 is the data's own floor, so 3 is 1.5 × the floor)."""
    data_size: int | None = None
    """The data's dimension, filled in when the data are read."""

    internal: ClassVar[tuple[str, ...]] = ("data_size",)

    def __post_init__(self):
        self.check(
            "data", isinstance(self.data, str) and bool(self.data), "a path or name", self.data
        )
        super().__post_init__()
        self.positive_int("hidden")
        v = self.validation
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1
        self.check("validation", ok, "a fraction in [0, 1) (0: no model selection)", v)
        self.positive_int("bounded_restarts")
        self.positive_int("restarts", minimum=0)
        self.nonnegative_float("restart_target")
        self.nonnegative_float("bounded_target")
        self.boolean("hidden_estimate")
        ok = not (self.hidden_estimate and self.observation != "identity")
        self.check("hidden_estimate", ok, "false unless observation = identity", True)
        for name in ("latent", "num_relu", "data_size"):
            if getattr(self, name) is not None:
                self.positive_int(name)
        self.check("seed", isinstance(self.seed, int), "an integer", self.seed)
