"""Prediction tasks and windows: (inputs, targets, fed-back outputs), split in time."""

from typing import NamedTuple

import numpy as np
from jaxtyping import ArrayLike, Float

from ..data import check_series


class Task(NamedTuple):
    """A sequence prediction task: predict `targets[t]` from `inputs[: t + 1]`.

    `feedback[t]` is the observed previous output y_{t-1} (teacher forcing). For an
    autoregressive task (`inputs[t] = x_t`, `targets[t] = x_{t+1}`) it equals `inputs[t]`.
    """

    inputs: Float[np.ndarray, "T D"]
    targets: Float[np.ndarray, "T K"]
    feedback: Float[np.ndarray, "T K"]
    autoregressive: bool


def autoregressive_task(series: ArrayLike, *, name: str = "series") -> Task:
    """One-step-ahead prediction of a series: inputs x_0..x_{T-2}, targets x_1..x_{T-1}.

    **Raises:**

    `ValueError` if the series is not a finite (T, d) array with T ≥ 2, naming the first
    NaN/Inf row.
    """
    x = check_series(series, name=name, min_length=2)
    return Task(x[:-1], x[1:], x[:-1], True)


def io_task(inputs: ArrayLike, targets: ArrayLike, *, name: str = "data") -> Task:
    """An input-output task (e.g. NARMA-10): targets[t] from inputs[: t + 1]; the output fed
    back at t = 0 is zero."""
    u = check_series(inputs, name=f"{name} inputs")
    y = check_series(targets, name=f"{name} targets")
    if len(u) != len(y):
        raise ValueError(f"inputs and targets must have the same length; got {len(u)}, {len(y)}.")
    return Task(u, y, np.concatenate([np.zeros_like(y[:1]), y[:-1]]), False)


def check_window(window: int, steps: int, *, name: str = "series") -> None:
    """Raise a clear `ValueError` unless 1 <= window <= steps."""
    if not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"`window` must be a positive integer; got {window!r}.")
    if window > steps:
        raise ValueError(
            f"`window`={window} is longer than the {name}: it has only {steps} usable input "
            f"steps (a window of {window} inputs needs at least {window + 1} time steps). "
            "Use a shorter window or a longer series."
        )


def windows(
    task: Task, window: int
) -> tuple[Float[np.ndarray, "B w D"], Float[np.ndarray, "B w K"], Float[np.ndarray, "B K"]]:
    """All sliding windows: `(inputs, fed-back outputs, final targets)`; window i covers
    steps i..i+window-1 and its target is `targets[i + window - 1]`."""
    check_window(window, len(task.inputs))
    idx = np.arange(len(task.inputs) - window + 1)[:, None] + np.arange(window)[None, :]
    return task.inputs[idx], task.feedback[idx], task.targets[idx[:, -1]]


class Split(NamedTuple):
    """Window indices of the training, validation and test parts (by target time)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_windows(num: int, *, test_fraction: float, val_fraction: float) -> Split:
    """Split `num` windows in time: the test set is the held-out tail, validation before it.

    **Raises:**

    `ValueError` for fractions outside [0, 1) or parts too small to fit a model.
    """
    for name, f in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"`{name}` must be in [0, 1); got {f}.")
    n_test = int(round(num * test_fraction))
    n_val = int(round(num * val_fraction))
    n_train = num - n_test - n_val
    if n_train < 2 or (test_fraction > 0 and n_test < 1) or (val_fraction > 0 and n_val < 1):
        raise ValueError(
            f"{num} windows cannot be split into train/validation/test with "
            f"val_fraction={val_fraction} and test_fraction={test_fraction}: the training part "
            f"would have {n_train} windows (need >= 2). Use a shorter window or more data."
        )
    r = np.arange(num)
    return Split(r[:n_train], r[n_train : n_train + n_val], r[n_train + n_val :])


def load_task(name: str, *, max_length: int | None = None) -> Task:
    """A named dataset (`paratime.data.load`, plus `"narma10"`: 2 000 steps, or `max_length`)
    or a file, as a `Task`; a series is cut to its first `max_length` steps.

    **Raises:**

    `ValueError` or `FileNotFoundError` for an unknown name or a missing file.
    """
    from .. import data as datasets

    if name == "narma10":
        u, y = datasets.narma10(2000 if max_length is None else max_length, key=0)
        return io_task(u, y, name=name)
    x = datasets.load(name)
    if max_length is not None:
        x = x[:max_length]
    return autoregressive_task(x, name=name)
