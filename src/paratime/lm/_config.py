"""`LMConfig`: every option of a language-model run, validated, stored as TOML."""

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import tomllib

from ..train._atomic import atomic_write_text

SOLVERS = ("deer", "quasi-deer", "sequential", "auto")
DTYPES = ("float32", "float64")


def cell_names() -> tuple[str, ...]:
    """The names accepted by `LMConfig.cell`."""
    from ._model import CELLS

    return tuple(CELLS)


@dataclasses.dataclass(frozen=True)
class LMConfig:
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
    - `warm_start`: carry each layer's trajectories from one step to the next as Newton guesses.
    - `batch_devices`, `time_devices`: a (batch × time) device mesh; with `time_devices > 1`
        the recurrences are solved with the time axis split over devices (`ShardedDEER` or
        `ShardedQuasiDEER`).
    - `eval_every`: measure held-out bits per byte every this many steps (0: only at the end).
    - `eval_windows`: how many fixed held-out windows of `context` bytes to measure on.
    - `seed`: initialisation and batch order.
    - `dtype`: `"float32"` or `"float64"`.
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
    batch_devices: int = 1
    time_devices: int = 1
    eval_every: int = 0
    eval_windows: int = 8
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = field.type
            expected = (int, float) if kind is float else kind
            if not isinstance(value, expected) or (kind is not bool and isinstance(value, bool)):
                raise ValueError(f"`{field.name}` must be a {kind.__name__}; got {value!r}.")
        positive = ("dim", "hidden_size", "depth", "mlp_ratio", "context", "batch", "steps")
        for name in positive + ("batch_devices", "time_devices", "eval_windows"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be positive; got {getattr(self, name)!r}.")
        for name in ("warmup", "eval_every", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be non-negative; got {getattr(self, name)!r}.")
        if self.context > 65536:
            raise ValueError(f"`context` must be at most 65536 bytes; got {self.context}.")
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be positive; got {self.learning_rate!r}.")
        if self.cell not in cell_names():
            raise ValueError(f"`cell` must be one of {', '.join(cell_names())}; got {self.cell!r}.")
        if self.solver not in SOLVERS:
            raise ValueError(f"`solver` must be one of {', '.join(SOLVERS)}; got {self.solver!r}.")
        if self.dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {', '.join(DTYPES)}; got {self.dtype!r}.")
        if self.batch % self.batch_devices:
            raise ValueError(
                f"`batch` ({self.batch}) must be a multiple of `batch_devices` "
                f"({self.batch_devices})."
            )
        if self.time_devices > 1 and self.solver not in ("deer", "quasi-deer"):
            raise ValueError(
                f"`time_devices` > 1 needs `solver` 'deer' or 'quasi-deer'; got {self.solver!r}."
            )

    def replace(self, **changes: Any) -> "LMConfig":
        """A copy with some fields changed (validated again); `None` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_toml(self) -> str:
        """The config as TOML text (one `key = value` line per field)."""
        lines = []
        for name, value in dataclasses.asdict(self).items():
            text = json.dumps(value) if not isinstance(value, float) else repr(value)
            lines.append(f"{name} = {text}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LMConfig":
        """A config from a dict (e.g. parsed TOML); unknown keys raise `ValueError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(
                f"unknown config field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}."
            )
        return cls(**values)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LMConfig":
        """Read a TOML config file (fields not given keep their defaults)."""
        try:
            values = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ValueError(f"config file {str(path)!r} does not exist.") from None
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config file {str(path)!r} is not valid TOML: {e}.") from None
        return cls.from_dict(values)

    def save(self, path: str | os.PathLike) -> None:
        """Write the config as TOML, atomically."""
        atomic_write_text(path, self.to_toml())

    def differences(self, other: "LMConfig", *, ignore: tuple[str, ...] = ()) -> list[str]:
        """The fields that differ from `other`, as `name: mine != theirs` strings."""
        return [
            f"{f.name}: {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name not in ignore and getattr(self, f.name) != getattr(other, f.name)
        ]
