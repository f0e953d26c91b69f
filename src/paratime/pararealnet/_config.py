"""The configuration of a ParaRealNet training run (`paratime pararealnet train`)."""

import dataclasses

from .._config import AbstractConfig


@dataclasses.dataclass(frozen=True)
class TrainConfig(AbstractConfig):
    """Everything that defines a ParaRealNet training run; validated on construction.

    **Fields:** `data` (`"digits"` or `"synthetic"`), `depth` (residual blocks L), `parallel`
    (fine sub-networks P, a divisor of `depth`), `steps`, `baseline` (also train the
    sequential network), `width`, `hidden`, `coarse_hidden`, `coarse_depth`, `interface`
    (`"coarse"` or `"input"`), `mode` (`"vmap"` or `"shard"`), `batch_size`,
    `learning_rate`, `seed`.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: str = "digits"
    depth: int = 32
    parallel: int = 4
    steps: int = 500
    baseline: bool = False
    width: int = 32
    hidden: int = 32
    coarse_hidden: int = 8
    coarse_depth: int = 1
    interface: str = "coarse"
    mode: str = "vmap"
    batch_size: int = 128
    learning_rate: float = 3e-3
    seed: int = 0

    def __post_init__(self):
        self.one_of("data", ("digits", "synthetic"))
        self.one_of("interface", ("coarse", "input"))
        self.one_of("mode", ("vmap", "shard"))
        self.positive_int("depth", "parallel", "steps", "width", "hidden", "coarse_hidden")
        self.positive_int("coarse_depth", "batch_size")
        self.positive_float("learning_rate")
        self.check("seed", isinstance(self.seed, int), "an integer", self.seed)
        self.check("baseline", isinstance(self.baseline, bool), "true or false", self.baseline)
        self.check(
            "parallel",
            self.depth % self.parallel == 0,
            f"a divisor of depth={self.depth} (num_parallel)",
            self.parallel,
        )
