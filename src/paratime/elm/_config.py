"""The configuration of one ELM fit (`paratime elm fit`)."""

import dataclasses
from typing import Literal

from .._config import AbstractConfig
from .._names import SolverName
from ._cells import ARCHITECTURES, canonical_arch
from ._lstsq import Method


@dataclasses.dataclass(frozen=True)
class FitConfig(AbstractConfig):
    """Everything that defines one ELM fit; validated on construction. Each field is a flag of
    `paratime elm fit` (`spectral_radius` -> `--spectral-radius`), its docstring the flag's
    help.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    extra_datasets = ("narma10",)

    data: str
    """The series: a dataset name or a .npy/.csv/.txt path."""
    arch: str = "gru"
    """elman | jordan | narmax | fully-connected | lstm | gru."""
    hidden: int = 100
    """Hidden units."""
    window: int = 20
    """Time steps per window."""
    lam: str = "multistep"
    """Ridge λ: 'multistep' (by the 20-step closed-loop validation error), 'gcv',
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
    """Input weights are U(-s, s)."""
    seed: int = 0
    """Seed of the random weights."""
    test_fraction: float = 0.2
    """Held-out tail."""
    val_fraction: float = 0.1
    """Validation part before the tail."""
    horizon: int = 20
    """Steps of the closed-loop forecast."""
    max_length: int = 0
    """Use the first N steps (0: all)."""
    x64: bool = True
    """Compute in float64."""

    def __post_init__(self):
        self.check(
            "data", isinstance(self.data, str) and bool(self.data), "a name or path", self.data
        )
        try:
            object.__setattr__(self, "arch", canonical_arch(str(self.arch)))
        except ValueError:
            self.check("arch", False, f"one of {', '.join(ARCHITECTURES)}", self.arch)
        self.positive_int("hidden", "window", "horizon")
        self.positive_int("max_length", minimum=0)
        self.check_choices()
        if isinstance(self.lam, int | float) and not isinstance(self.lam, bool):
            object.__setattr__(self, "lam", str(float(self.lam)))  # `lam = 1e-6` in TOML
        self.lam_value()
        self.positive_float("spectral_radius", "input_scaling")
        tf, vf = self.test_fraction, self.val_fraction
        self.check("test_fraction", isinstance(tf, float | int) and 0 < tf < 1, "in (0, 1)", tf)
        self.check("val_fraction", isinstance(vf, float | int) and 0 <= vf < 1, "in [0, 1)", vf)
        self.check("val_fraction", tf + vf < 1, "less than 1 - test_fraction", vf)
        for name in ("direct", "x64"):
            self.check(
                name, isinstance(getattr(self, name), bool), "true or false", getattr(self, name)
            )

    def lam_value(self) -> float | Literal["multistep", "gcv", "validation"]:
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
