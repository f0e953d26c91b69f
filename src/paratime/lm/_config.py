"""`LMConfig`: every option of a language-model run, validated, stored as TOML."""

import dataclasses
from typing import ClassVar, Literal

from .._config import AbstractConfig
from .._names import FallbackName, SolverName


def cell_names() -> tuple[str, ...]:
    """The names accepted by `LMConfig.cell`."""
    from ._model import CELLS

    return tuple(CELLS)


@dataclasses.dataclass(frozen=True)
class LMConfig(AbstractConfig):
    """The options of a byte-level language-model run; validated on construction. Each field
    is a flag of `paratime lm train` (`hidden_size` -> `--hidden-size`), its docstring the
    flag's help.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: str = "stdlib"
    """'stdlib' (the Python standard library's sources) or a folder or text file."""
    cell: str = "diagonal_gru"
    """The recurrent cell of every block (see `paratime.lm.CELLS`)."""
    dim: int = 64
    """Width of the residual stream."""
    hidden_size: int = 64
    """State size of the cells."""
    depth: int = 2
    """Number of blocks."""
    mlp_ratio: int = 2
    """Hidden width of each block's MLP, in multiples of dim."""
    context: int = 1024
    """Bytes per training sequence (1 024 to 16 384 are the intended range)."""
    batch: int = 8
    """Sequences per step."""
    steps: int = 200
    """Optimiser (Adam) steps in total."""
    learning_rate: float = 3e-3
    """Peak learning rate (linear warm-up, then a cosine decay to 10 %; gradients clipped to
    global norm 1)."""
    warmup: int = 20
    """Linear warm-up steps."""
    solver: SolverName = "quasi-deer"
    """Solver of the recurrences (with time_devices > 1: deer or quasi-deer, sharded over
    time)."""
    fallback: FallbackName = "sequential"
    """What finishes a parallel solve that failed, for the failed sequences only (none: the
    step keeps the failed states)."""
    warm_start: bool = False
    """Carry each layer's trajectories from one step to the next as Newton guesses."""
    file_resets: bool = True
    """Restart every layer's state where a file begins inside a window (packed files,
    `unroll(..., resets=)`), in training and evaluation; false lets the state flow from one
    file into the next."""
    batch_devices: int = 1
    """Devices along the batch."""
    time_devices: int = 1
    """Devices along time (the recurrences are split over them)."""
    eval_every: int = 0
    """Measure held-out bits per byte every this many steps (0: only at the end)."""
    eval_windows: int = 8
    """Fixed held-out windows of `context` bytes to measure on."""
    seed: int = 0
    """Initialisation and batch order."""
    dtype: Literal["float32", "float64"] = "float32"
    """Floating-point type of the model."""

    resumable: ClassVar[tuple[str, ...]] = ("steps", "fallback")

    def __post_init__(self):
        self.check_types()
        self.positive_int(
            "dim", "hidden_size", "depth", "mlp_ratio", "context", "batch", "steps",
            "batch_devices", "time_devices", "eval_windows",
        )  # fmt: skip
        self.positive_int("warmup", "eval_every", "seed", minimum=0)
        self.check("context", self.context <= 65536, "at most 65536 bytes", self.context)
        self.positive_float("learning_rate")
        self.one_of("cell", cell_names())
        self.check_choices()
        self.check(
            "batch",
            self.batch % self.batch_devices == 0,
            f"a multiple of `batch_devices` ({self.batch_devices})",
            self.batch,
        )
        self.check(
            "time_devices",
            self.time_devices == 1 or self.solver in ("deer", "quasi-deer"),
            "1 unless `solver` is 'deer' or 'quasi-deer'",
            self.time_devices,
        )
