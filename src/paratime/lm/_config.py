"""`LMConfig`: every option of a language-model run, validated, stored as TOML."""

import dataclasses
from typing import ClassVar

from .._config import AbstractConfig

SOLVERS = ("deer", "quasi-deer", "sequential", "auto")
DTYPES = ("float32", "float64")


def cell_names() -> tuple[str, ...]:
    """The names accepted by `LMConfig.cell`."""
    from ._model import CELLS

    return tuple(CELLS)


@dataclasses.dataclass(frozen=True)
class LMConfig(AbstractConfig):
    """The options of a byte-level language-model run (`paratime lm train`).

    **Fields:**

    - `data`: `"stdlib"` (the Python standard library's sources) or a folder or text file.
    - `cell`: the recurrent cell of every block (see `paratime.lm.CELLS`).
    - `dim`, `hidden_size`, `depth`, `mlp_ratio`: the `paratime.nn.SequenceModel` sizes.
    - `context`: bytes per training sequence (1 024 to 16 384 are the intended range).
    - `batch`: sequences per step.
    - `steps`, `learning_rate`, `warmup`: Adam steps, peak rate, linear warm-up steps (then a
        cosine decay to 10 %); gradients are clipped to global norm 1.
    - `solver`: `"deer"`, `"quasi-deer"`, `"sequential"` or `"auto"`.
    - `file_resets`: restart every layer's state where a file begins inside a window (packed
        files, `unroll(..., resets=)`), in training and evaluation; `false` lets the state flow
        from one file into the next.
    - `warm_start`: carry each layer's trajectories from one step to the next as Newton guesses.
    - `batch_devices`, `time_devices`: a (batch × time) device mesh; with `time_devices > 1`
        the recurrences are solved with the time axis split over devices (`ShardedDEER` or
        `ShardedQuasiDEER`).
    - `eval_every`: measure held-out bits per byte every this many steps (0: only at the end).
    - `eval_windows`: how many fixed held-out windows of `context` bytes to measure on.
    - `seed`: initialisation and batch order.
    - `dtype`: `"float32"` or `"float64"`.

    **Raises:**

    `paratime.ConfigError` (a `ValueError`) naming the first bad field.
    """

    data: str = "stdlib"
    cell: str = "diagonal_gru"
    dim: int = 64
    hidden_size: int = 64
    depth: int = 2
    mlp_ratio: int = 2
    context: int = 1024
    batch: int = 8
    steps: int = 200
    learning_rate: float = 3e-3
    warmup: int = 20
    solver: str = "quasi-deer"
    warm_start: bool = False
    file_resets: bool = True
    batch_devices: int = 1
    time_devices: int = 1
    eval_every: int = 0
    eval_windows: int = 8
    seed: int = 0
    dtype: str = "float32"

    resumable: ClassVar[tuple[str, ...]] = ("steps",)

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
        self.one_of("solver", SOLVERS)
        self.one_of("dtype", DTYPES)
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
