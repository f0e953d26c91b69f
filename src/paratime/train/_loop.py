"""A resumable training loop: progress bar, JSONL metrics log, atomic checkpoints."""

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np

from ._checkpoint import load_checkpoint, save_checkpoint
from ._progress import Progress

_S = TypeVar("_S")

CHECKPOINT = "checkpoint.eqx"
METRICS = "metrics.jsonl"


def _to_python(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        v = np.asarray(v)
        out[k] = float(v) if v.size == 1 else v.tolist()
    return out


def _truncate_log(path: Path, start: int) -> list[dict[str, Any]]:
    """Keep the log lines of steps before `start`; drop anything written after the checkpoint."""
    if not path.exists():
        return []
    kept = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if record["step"] < start:
                kept.append(record)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
    os.replace(tmp, path)
    return kept


def train(
    step_fn: Callable[[_S, int], tuple[_S, dict[str, Any]]],
    state: _S,
    *,
    steps: int,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    checkpoint_every: int = 100,
    log_every: int = 1,
    progress: bool = True,
    description: str = "training",
    show: tuple[str, ...] = ("loss",),
) -> tuple[_S, list[dict[str, Any]]]:
    """Run `steps` calls of `step_fn`, with checkpoints, a metrics log and a progress bar.

    The loop is deterministic given `state`: `step_fn` receives the step index, so it should
    derive any randomness from it (e.g. `jax.random.fold_in(key, step)`). That makes a resumed
    run continue exactly as an uninterrupted one would.

    **Arguments:**

    - `step_fn`: `(state, step) -> (state, metrics)`, where `metrics` is a dict of scalars.
        Usually jitted.
    - `state`: the initial state (any PyTree: model, optimiser state, schedule values, ...).
        With `resume=True` it is also the template the checkpoint is loaded into.
    - `steps`: the total number of steps (including those done before a resume).
    - `out_dir`: folder for `checkpoint.eqx` and `metrics.jsonl`. `None` keeps nothing on disk.
    - `resume`: continue from `out_dir/checkpoint.eqx` if it exists.
    - `checkpoint_every`: write a checkpoint every this many steps (and always at the end, and
        on `KeyboardInterrupt`).
    - `log_every`: record metrics every this many steps.
    - `progress`: show a progress bar with the metrics named in `show`.
    - `description`: the progress bar's label.
    - `show`: the metric names to show next to the bar.

    **Returns:**

    `(state, history)`, where `history` is the list of logged metric dicts (each with `step`
    and `time`), including those from before a resume.

    **Raises:**

    `ValueError` if `resume=True` without `out_dir`, or if `steps` is negative.
    """
    if steps < 0:
        raise ValueError(f"`steps` must be non-negative; got {steps}.")
    if resume and out_dir is None:
        raise ValueError("`resume=True` needs `out_dir`.")
    start = 0
    history: list[dict[str, Any]] = []
    ckpt = log = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        ckpt, log = out / CHECKPOINT, out / METRICS
        if resume and ckpt.exists():
            state, start, _ = load_checkpoint(ckpt, state)
            history = _truncate_log(log, start)
        elif log.exists():
            log.unlink()

    def checkpoint(step: int) -> None:
        if ckpt is not None:
            save_checkpoint(ckpt, state, step=step)

    t0 = time.perf_counter()
    bar = Progress(total=steps, start=start, description=description, enabled=progress)
    step = start
    try:
        with bar:
            for step in range(start, steps):
                state, metrics = step_fn(state, step)
                done = step + 1
                if done % log_every == 0 or done == steps:
                    record = {"step": step, "time": time.perf_counter() - t0}
                    record.update(_to_python(jax.device_get(metrics)))
                    history.append(record)
                    if log is not None:
                        with open(log, "a") as f:
                            f.write(json.dumps(record) + "\n")
                    bar.update(done, {k: record[k] for k in show if k in record})
                else:
                    bar.update(done, {})
                if ckpt is not None and done % checkpoint_every == 0:
                    checkpoint(done)
                loss = history[-1].get("loss") if history else None
                if isinstance(loss, float) and not math.isfinite(loss):
                    checkpoint(done)
                    raise FloatingPointError(
                        f"the loss became {loss} at step {step}; the last checkpoint is kept "
                        "in `out_dir`. Lower the learning rate or use a more stable solver."
                    )
            step = steps
    except KeyboardInterrupt:
        checkpoint(step)
        raise
    checkpoint(steps)
    return state, history
