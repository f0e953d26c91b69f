"""The configuration of a ParaRealNet training run (`paratime pararealnet train`)."""

import dataclasses
from typing import Literal

from .._config import AbstractConfig


@dataclasses.dataclass(frozen=True)
class TrainConfig(AbstractConfig):
    """Everything that defines a ParaRealNet training run; validated on construction. Each
    field is a flag of `paratime pararealnet train` (`batch_size` -> `--batch-size`), its
    docstring the flag's help.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: Literal["digits", "synthetic"] = "digits"
    """digits (scikit-learn) or synthetic."""
    depth: int = 32
    """Number of residual blocks L."""
    parallel: int = 4
    """Number of fine sub-networks P (a divisor of depth)."""
    steps: int = 500
    """Optimiser steps (for each model)."""
    baseline: bool = False
    """Also train the sequential network (about the same parameter count)."""
    width: int = 32
    """Feature width of the residual stream."""
    hidden: int = 32
    """Hidden width of each fine block."""
    coarse_hidden: int = 8
    """Hidden width of a coarse block."""
    coarse_depth: int = 1
    """Blocks per coarse network."""
    interface: Literal["coarse", "input"] = "coarse"
    """Fine inputs: the coarse sweep or x."""
    mode: Literal["vmap", "shard"] = "vmap"
    """vmap on one device or shard over P devices."""
    batch_size: int = 128
    """Minibatch size."""
    learning_rate: float = 3e-3
    """Peak Adam learning rate."""
    seed: int = 0
    """Seed for initialisation and minibatches."""

    def __post_init__(self):
        self.check_choices()
        self.positive_int("depth", "parallel", "steps", "width", "hidden", "coarse_hidden")
        self.positive_int("coarse_depth", "batch_size")
        self.positive_float("learning_rate")
        self.check("seed", isinstance(self.seed, int), "an integer", self.seed)
        self.boolean("baseline")
        self.check(
            "parallel",
            self.depth % self.parallel == 0,
            f"a divisor of depth={self.depth} (num_parallel)",
            self.parallel,
        )
