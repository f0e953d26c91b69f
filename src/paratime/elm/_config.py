"""The configuration of one ELM fit (`paratime elm fit`)."""

import dataclasses

from .._config import AbstractConfig
from .._names import SOLVER_NAMES
from ._cells import ARCHITECTURES, canonical_arch
from ._lstsq import METHODS


@dataclasses.dataclass(frozen=True)
class FitConfig(AbstractConfig):
    """Everything that defines one ELM fit; validated on construction.

    **Fields:** `data` (a dataset name, `"narma10"` or a file), `arch` (one of
    `paratime.elm.ARCHITECTURES`), `hidden`, `window`, `lam` (`"multistep"`, `"gcv"`,
    `"validation"` or a number >= 0, as text), `method` (`qr`, `cholesky`, `svd`), `solver` (a
    `paratime.SolverName`, which builds the hidden states), `direct`, `spectral_radius`,
    `input_scaling`, `seed`, `test_fraction`, `val_fraction`, `horizon`, `max_length` (0: the
    whole series) and `x64`.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: str
    arch: str = "gru"
    hidden: int = 100
    window: int = 20
    lam: str = "multistep"
    method: str = "qr"
    solver: str = "sequential"
    direct: bool = True
    spectral_radius: float = 0.9
    input_scaling: float = 1.0
    seed: int = 0
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    horizon: int = 20
    max_length: int = 0
    x64: bool = True

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
        self.one_of("method", METHODS)
        self.one_of("solver", SOLVER_NAMES)
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

    def lam_value(self) -> float | str:
        """`"multistep"`, `"gcv"`, `"validation"` or λ as a float."""
        if self.lam in ("multistep", "gcv", "validation"):
            return self.lam
        try:
            value = float(self.lam)
        except (TypeError, ValueError):
            value = -1.0
        allowed = "'multistep', 'gcv', 'validation' or a number >= 0"
        self.check("lam", value >= 0, allowed, self.lam)
        return value
