"""The settings of an ELM fit (`elm.fit`) and the configuration of one run (`paratime elm
fit`), declared once: `FitSettings` holds the network and how β is fitted, `FitConfig` adds
the data and how it is split; every field is a flag of the command line."""

import dataclasses
from typing import Any, Literal

from .._config import AbstractConfig
from .._names import SolverName
from ._cells import ARCHITECTURES, canonical_arch
from ._forecast import BOUNDS_MARGIN
from ._lstsq import Method

LamRule = Literal["multistep", "gcv", "validation"]


@dataclasses.dataclass(frozen=True)
class FitSettings(AbstractConfig):
    """How `paratime.elm.fit` builds and fits a network: the architecture, its random
    weights' scales, and the ridge solve; validated on construction. `paratime elm fit`
    takes the same settings as flags (`spectral_radius` -> `--spectral-radius`), and
    `FitConfig` (a subclass) adds the data.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    arch: str = "gru"
    """elman | jordan | narmax | fully-connected | lstm | gru."""
    hidden: int = 100
    """Hidden units."""
    lam: str = "multistep"
    """Ridge λ: 'multistep' (by the closed-loop validation error over --horizon steps), 'gcv',
    'validation' or a number."""
    method: Method = "qr"
    """Least squares."""
    solver: SolverName = "sequential"
    """Solver that builds the hidden states H."""
    direct: bool = True
    """Direct input-to-output links."""
    spectral_radius: float = 0.9
    """Spectral radius of recurrent weights."""
    input_scaling: float = 1.0
    """Input (and output-feedback) weights are U(-s, s)."""
    bias_scaling: float = 0.2
    """Biases are U(-s, s)."""
    lags: int = 3
    """NARMAX: length of the output delay line."""
    decay: float = 0.5
    """Jordan: decay of the context units, in [0, 1)."""
    horizon: int = 20
    """Steps of the closed-loop forecast (scored, and the 'multistep' criterion)."""
    bounds_margin: float | None = BOUNDS_MARGIN
    """Closed-loop forecasts are clipped to the training outputs' range widened by this
    fraction of its width on each side (unset in Python: unbounded)."""

    def __post_init__(self):
        try:
            object.__setattr__(self, "arch", canonical_arch(str(self.arch)))
        except ValueError:
            self.check("arch", False, f"one of {', '.join(ARCHITECTURES)}", self.arch)
        self.positive_int("hidden", "horizon", "lags")
        self.check_choices()
        if isinstance(self.lam, int | float) and not isinstance(self.lam, bool):
            object.__setattr__(self, "lam", str(float(self.lam)))  # `lam = 1e-6` in TOML
        self.lam_value()
        self.positive_float("spectral_radius", "input_scaling", "bias_scaling")
        d = self.decay
        ok = isinstance(d, int | float) and not isinstance(d, bool) and 0 <= d < 1
        self.check("decay", ok, "in [0, 1)", d)
        if self.bounds_margin is not None:
            self.nonnegative_float("bounds_margin")
        self.boolean("direct")

    def lam_value(self) -> float | LamRule:
        """`"multistep"`, `"gcv"`, `"validation"` or λ as a float."""
        if self.lam == "multistep" or self.lam == "gcv" or self.lam == "validation":
            return self.lam
        try:
            value = float(self.lam)
        except (TypeError, ValueError):
            value = -1.0
        allowed = "'multistep', 'gcv', 'validation' or a number >= 0"
        self.check("lam", value >= 0, allowed, self.lam)
        return value

    def cell_options(self) -> dict[str, Any]:
        """The keyword arguments of `paratime.elm.make_cell` these settings fix."""
        names = ("spectral_radius", "input_scaling", "bias_scaling", "lags", "decay")
        return {name: getattr(self, name) for name in names}


@dataclasses.dataclass(frozen=True, kw_only=True)
class FitConfig(FitSettings):
    """Everything that defines one ELM fit: the data and how it is split, and the settings
    of the fit (the fields of `FitSettings`); validated on construction. Each field is a flag
    of `paratime elm fit` (`spectral_radius` -> `--spectral-radius`), its docstring the flag's
    help.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    extra_datasets = ("narma10",)

    data: str
    """The series: a dataset name or a .npy/.csv/.txt path."""
    window: int = 20
    """Time steps per window."""
    seed: int = 0
    """Seed of the random weights."""
    test_fraction: float = 0.2
    """Held-out tail."""
    val_fraction: float = 0.1
    """Validation part before the tail."""
    max_length: int = 0
    """Use the first N steps (0: all)."""
    x64: bool = True
    """Compute in float64."""

    def __post_init__(self):
        self.check(
            "data", isinstance(self.data, str) and bool(self.data), "a name or path", self.data
        )
        super().__post_init__()
        self.positive_int("window")
        self.positive_int("max_length", minimum=0)
        tf, vf = self.test_fraction, self.val_fraction
        self.check("test_fraction", isinstance(tf, float | int) and 0 < tf < 1, "in (0, 1)", tf)
        self.check("val_fraction", isinstance(vf, float | int) and 0 <= vf < 1, "in [0, 1)", vf)
        self.check("val_fraction", tf + vf < 1, "less than 1 - test_fraction", vf)
        self.boolean("x64")
        self.check("seed", isinstance(self.seed, int), "an integer", self.seed)
