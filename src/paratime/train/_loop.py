"""A resumable training loop: progress bar, JSONL metrics log, atomic checkpoints."""

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np

from .._engine._failure import as_newton_error
from ._atomic import atomic_write_text, remove_stale_temporaries
from ._checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint
from ._progress import Progress

_S = TypeVar("_S")

CHECKPOINT = "checkpoint.eqx"
METRICS = "metrics.jsonl"
# The solver metrics a step logs when its parallel solves report them (see `make_step`).
SOLVER_METRICS = ("newton_iters", "fallbacks", "residual")
# Logged steps in a row that may skip a non-finite update before training stops.
MAX_SKIPPED = 100
# A run whose solves fell back in FAILING_STEPS of the last FAILING_WINDOW logged steps is
# told so, once.
FAILING_STEPS, FAILING_WINDOW = 5, 20


class SolverFallbackWarning(UserWarning):
    """Issued once per run by `paratime.train.train` when the parallel solves of its steps
    keep failing and being finished by their fallback (exact, but slower)."""


class _FailureWatch:
    """Counts the logged steps whose solves fell back; says so once, in one line."""

    def __init__(self) -> None:
        self.recent: list[bool] = []
        self.warned = False

    def update(self, step: int, entry: dict[str, Any]) -> None:
        if "fallbacks" not in entry or self.warned:
            return
        self.recent = (self.recent + [entry["fallbacks"] > 0])[-FAILING_WINDOW:]
        if sum(self.recent) >= FAILING_STEPS:
            self.warned = True
            warnings.warn(
                f"the parallel solver failed in {sum(self.recent)} of the last "
                f"{len(self.recent)} steps (up to step {step}; {entry['fallbacks']:.0f} "
                f"sequences in the last, after {entry.get('newton_iters', 0):.0f} Newton "
                "iterations); each was finished exactly by its fallback, at sequential speed. "
                "The cell is not contractive along these sequences (measure it with "
                "paratime.lyapunov): use solver=paratime.Sequential() (or ELK()), shorter "
                "sequences, or a lower learning rate.",
                SolverFallbackWarning,
                stacklevel=4,
            )


def _to_python(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        v = np.asarray(v)
        out[k] = float(v) if v.size == 1 else v.tolist()
    return out


def _append_line(path: Path, line: str) -> None:
    """Append one line to the metrics log (a crash can tear it; resume drops a torn line)."""
    with open(path, "a") as f:
        f.write(line)


def _truncate_log(path: Path, start: int) -> list[dict[str, Any]]:
    """Keep the log lines of steps before `start`; drop anything written after the checkpoint.

    A torn last line (a crash in the middle of an append) is dropped with a warning.
    """
    if not path.exists():
        if start > 0:
            warnings.warn(
                f"the metrics log {str(path)!r} is missing; the history of the {start} steps "
                "before the checkpoint is lost, and the log restarts at the checkpoint.",
                stacklevel=3,
            )
        return []
    lines = path.read_text(errors="replace").split("\n")
    kept = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step = record["step"]
        except (json.JSONDecodeError, KeyError, TypeError):
            last = all(not rest.strip() for rest in lines[number:])
            if not last:
                raise ValueError(
                    f"the metrics log {str(path)!r} is corrupt at line {number} (not a JSON "
                    "record with a `step`); repair or delete that line, then resume."
                ) from None
            warnings.warn(
                f"dropped a torn last line (line {number}) of the metrics log {str(path)!r}, "
                "left by an interrupted write; resuming from the checkpoint.",
                stacklevel=3,
            )
            continue
        if step < start:
            kept.append(record)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def _check_step_output(out: Any) -> None:
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping)):
        got = type(out).__name__ if not isinstance(out, tuple) else f"a tuple of {len(out)}"
        if isinstance(out, tuple) and len(out) == 2:
            got = f"(state, {type(out[1]).__name__})"
        raise TypeError(
            f"`step_fn` must return `(state, metrics)` with `metrics` a dict of scalars; got {got}."
        )


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be a positive int; got {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive int (>= 1); got {value!r}.")


def _check_arguments(step_fn, steps, out_dir, resume, checkpoint_every, log_every, show) -> None:
    if not callable(step_fn):
        raise TypeError(
            f"`step_fn` must be callable `(state, step) -> (state, metrics)`; got {step_fn!r}."
        )
    _check_count("steps", steps)
    _check_count("checkpoint_every", checkpoint_every)
    _check_count("log_every", log_every)
    if not isinstance(resume, bool):
        raise TypeError(f"`resume` must be True or False; got {resume!r}.")
    if out_dir is not None and not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"`out_dir` must be a path (str or os.PathLike) or None; got {out_dir!r}.")
    if isinstance(show, str) or not all(isinstance(s, str) for s in show):
        raise TypeError(f"`show` must be a tuple of metric names, e.g. ('loss',); got {show!r}.")
    if resume and out_dir is None:
        raise ValueError("`resume=True` needs `out_dir` (the run directory to continue).")


def has_checkpoint(out_dir: str | os.PathLike) -> bool:
    """Whether `out_dir` holds a checkpoint that `train(..., resume=True)` can continue from.

    Only checks that `checkpoint.eqx` or `checkpoint.prev.eqx` exists; a corrupt one is
    reported when resuming.
    """
    ckpt = Path(out_dir) / CHECKPOINT
    return ckpt.is_file() or previous_path(ckpt).is_file()


def _restore(out: Path, ckpt: Path, state: Any) -> tuple[Any, int, bool]:
    """Load the latest checkpoint in `out`, or the previous one (with a warning) if it is bad.

    Returns `(state, step, latest)`, with `latest=False` when the previous one was used."""
    prev = previous_path(ckpt)
    if not out.is_dir():
        raise FileNotFoundError(
            f"cannot resume: the run directory {str(out)!r} does not exist. Pass "
            "`resume=False` to start a fresh run there."
        )
    if not ckpt.exists() and not prev.exists():
        raise FileNotFoundError(
            f"cannot resume: the run directory {str(out)!r} has no checkpoint ({CHECKPOINT}). "
            "Pass `resume=False` to start a fresh run there."
        )
    fell_back = False
    try:
        state, start, _ = load_checkpoint(ckpt, state)
    except (FileNotFoundError, CheckpointError) as e:
        fell_back = True
        if not prev.exists():
            raise
        why = f"there is no {ckpt.name}" if isinstance(e, FileNotFoundError) else str(e)
        try:
            state, start, _ = load_checkpoint(prev, state)
        except CheckpointError as e2:
            raise CheckpointError(ckpt, f"is unusable, and so is the previous one ({e2})") from e
        warnings.warn(
            f"{why}; resuming from the previous checkpoint {str(prev)!r} (step {start}).",
            stacklevel=3,
        )
    return state, start, not fell_back


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
    validate: Callable[[_S, int], tuple[_S, dict[str, Any]]] | None = None,
    validate_every: int = 100,
    time_limit: float | None = None,
) -> tuple[_S, list[dict[str, Any]]]:
    """Run `steps` calls of `step_fn`, with checkpoints, a metrics log and a progress bar.

    The loop is deterministic given `state`: `step_fn` receives the step index, so it should
    derive any randomness from it (e.g. `jax.random.fold_in(key, step)`). That makes a resumed
    run continue exactly as an uninterrupted one would.

    Checkpoints carry a SHA-256 of their content and are verified when written and when
    loaded. The one before the latest is kept as `checkpoint.prev.eqx`; if the latest is
    missing or corrupt, a resume falls back to it with a warning. Temporary files left by a
    write that was killed are removed at the start; a torn last line of `metrics.jsonl` (a
    crash in the middle of an append) is dropped with a warning.

    **Arguments:**

    - `step_fn`: `(state, step) -> (state, metrics)`, where `metrics` is a dict of scalars.
        Usually jitted.
    - `state`: the initial state (any PyTree: model, optimiser state, schedule values, ...).
        With `resume=True` it is also the template the checkpoint is loaded into.
    - `steps`: the total number of steps (including those done before a resume); an int >= 1.
    - `out_dir`: folder for `checkpoint.eqx` and `metrics.jsonl`. `None` keeps nothing on disk.
    - `resume`: `True` continues from the checkpoint in `out_dir`, which must exist;
        `False` starts a fresh run: an earlier run's checkpoints and metrics log in `out_dir`
        are removed.
    - `checkpoint_every`: write a checkpoint every this many steps (and always at the end, and
        on `KeyboardInterrupt`).
    - `log_every`: record metrics every this many steps.
    - `progress`: show a progress bar with the metrics named in `show`.
    - `description`: the progress bar's label.
    - `show`: the metric names to show next to the bar (and the solver metrics, below,
        when the steps report them).
    - `validate`: optional `(state, done) -> (state, metrics)`, run on the host after every
        `validate_every`-th step and after the last one (`done` is the number of completed
        steps). It may update the state (e.g. the best validation score so far, so that a
        resumed run selects exactly as an uninterrupted one) and write files (e.g. the best
        model); its metrics are added to that step's log record, which is then always kept.
        It runs before that step's checkpoint, so a checkpoint holds the validated state.
    - `validate_every`: the validation period in steps. If the metrics `validate` returns
        hold a true `"stop"`, training ends after that step (e.g. patience on a validation
        score), with a checkpoint there.
    - `time_limit`: a wall-clock budget in seconds for this call (`None`: none); when it is
        spent, training ends after the current step (validated first, then checkpointed).

    **Returns:**

    `(state, history)`, where `history` is the list of logged metric dicts (each with `step`
    and `time`), including those from before a resume. A `step_fn` built by `make_step`
    (as `fit` does) whose loss runs parallel solves (`paratime.unroll` with an iterative
    solver, e.g. in a `paratime.nn` layer) also logs, per step, `newton_iters` (the most
    Newton iterations of any sequence), `fallbacks` (how many sequences were finished by
    their fallback) and `residual` (the largest final Newton residual); they are shown
    next to the bar. A run whose solves keep falling back is told so once
    (`SolverFallbackWarning`, one line).

    **Raises:**

    - `TypeError`/`ValueError` naming the argument, for a `steps`, `checkpoint_every` or
        `log_every` that is not a positive int, or `resume=True` without `out_dir`.
    - `FileNotFoundError` naming the folder, for `resume=True` on a run directory that does
        not exist or holds no checkpoint.
    - `paratime.train.CheckpointError` if the checkpoints in `out_dir` are all corrupt.
    - `FloatingPointError` if the loss becomes NaN or Inf (a checkpoint is written first),
        unless the step's metrics hold a true `skipped` (the step rejected that update and
        left the state as it was, as DSR training does); more than `MAX_SKIPPED` such steps
        in a row raise too.
    - `paratime.NewtonError` if a solve inside a step failed and had no fallback (with
        `throw=True`); raised as itself, not as the `jax.errors.JaxRuntimeError` (its
        base class) that the compiled step raised.
    """
    _check_arguments(step_fn, steps, out_dir, resume, checkpoint_every, log_every, show)
    _check_count("validate_every", validate_every)
    if time_limit is not None and not (
        isinstance(time_limit, int | float) and not isinstance(time_limit, bool) and time_limit > 0
    ):
        raise ValueError(f"`time_limit` must be a number of seconds > 0; got {time_limit!r}.")
    if validate is not None and not callable(validate):
        raise TypeError("`validate` must be callable `(state, done) -> (state, metrics)`.")
    if not isinstance(description, str):
        raise TypeError(f"`description` must be a str; got {type(description).__name__}.")
    steps = int(steps)
    start = 0
    history: list[dict[str, Any]] = []
    ckpt = log = None
    own_checkpoint = False  # does `ckpt` belong to this run (so it may become the previous one)?
    if out_dir is not None:
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"`out_dir` {str(out)!r} is a file, not a folder.")
        ckpt, log = out / CHECKPOINT, out / METRICS
        if resume:
            # Resumed from the previous checkpoint: the bad latest must not replace it.
            state, start, own_checkpoint = _restore(out, ckpt, state)
            if start > steps:
                raise ValueError(
                    f"`steps`={steps}, but the checkpoint in {str(out)!r} is already at step "
                    f"{start}; resume with `steps` >= {start} (the total, not the remainder)."
                )
        out.mkdir(parents=True, exist_ok=True)
        stale = remove_stale_temporaries(out)
        if stale:
            warnings.warn(
                f"removed {len(stale)} temporary file(s) left in {str(out)!r} by an interrupted "
                f"write: {', '.join(p.name for p in stale)}.",
                stacklevel=2,
            )
        if resume:
            history = _truncate_log(log, start)
        else:
            # A fresh run: nothing of an earlier run in `out_dir` may be resumed or mixed in.
            for old in (log, ckpt, previous_path(ckpt)):
                if old.exists():
                    old.unlink()

    saved_at = start if resume else None

    def checkpoint(step: int, at: Any = None) -> None:
        nonlocal own_checkpoint, saved_at
        if ckpt is not None and step != saved_at:
            saved = state if at is None else at
            save_checkpoint(ckpt, saved, step=step, keep_previous=own_checkpoint)
            own_checkpoint, saved_at = True, step

    # The metrics of a logged step are read back (a host sync) only after the next step has
    # been dispatched, so the device is never idle waiting for the log or the progress bar.
    pending: tuple[int, Any, Any] | None = None  # (step, its metrics, the state after it)

    solve_log = getattr(step_fn, "solve_log", None)
    watch = _FailureWatch()
    skipped_run = 0  # consecutive logged steps that skipped a non-finite update

    def record(step: int, metrics: Any, after: Any) -> None:
        nonlocal skipped_run
        entry = {"step": step, "time": time.perf_counter() - t0}
        entry.update(_to_python(jax.device_get(metrics)))
        if solve_log is not None:  # the step's solves have reported by now
            entry.update(solve_log.pop(step))
        history.append(entry)
        if log is not None:
            _append_line(log, json.dumps(entry) + "\n")
        shown = tuple(show) + tuple(k for k in SOLVER_METRICS if k not in show)
        bar.update(step + 1, {k: entry[k] for k in shown if k in entry})
        watch.update(step, entry)
        loss = entry.get("loss")
        bad = isinstance(loss, float) and not math.isfinite(loss)
        # A step that reports `skipped` left its state unchanged (it rejected the update of a
        # non-finite loss, as DSR training does): harmless, unless it never stops doing so.
        skipped_run = skipped_run + 1 if bad and entry.get("skipped") else 0
        if bad and (not entry.get("skipped") or skipped_run > MAX_SKIPPED):
            checkpoint(step + 1, after)
            kept = (
                "the last checkpoint is kept in `out_dir`"
                if ckpt is not None
                else "nothing was saved (`out_dir=None`)"
            )
            hint = (
                "Check the initial parameters and the data for NaN/Inf."
                if step == 0
                else "Lower the learning rate or use a more stable solver."
            )
            if skipped_run:
                hint = f"{skipped_run} steps in a row skipped their update. {hint}"
            raise FloatingPointError(f"the loss became {loss} at step {step}; {kept}. {hint}")

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            logged, pending = pending, None
            record(*logged)

    t0 = time.perf_counter()
    bar = Progress(total=steps, start=start, description=description, enabled=progress)
    completed = start  # the steps that `state` holds (what an interruption checkpoints)
    try:
        with bar:
            for step in range(start, steps):
                out_ = step_fn(state, step)
                if step == start:
                    _check_step_output(out_)
                new_state, metrics = out_
                flush()  # the previous logged step's metrics, while this one runs
                done = step + 1
                stop = time_limit is not None and time.perf_counter() - t0 >= time_limit
                if validate is not None and (done % validate_every == 0 or done == steps or stop):
                    new_state, extra = validate(new_state, done)
                    metrics = {**metrics, **extra}
                    logged = True
                    stop = stop or bool(extra.get("stop", False))
                else:
                    logged = done % log_every == 0 or done == steps
                state, completed = new_state, done
                if logged:
                    pending = (step, metrics, state)
                else:
                    bar.update(done, {})
                if ckpt is not None and done % checkpoint_every == 0:
                    flush()  # the log holds every record up to the checkpoint
                    checkpoint(done)
                if stop:
                    pending = pending or (step, metrics, state)
                    break
            flush()
    except KeyboardInterrupt:
        flush()
        checkpoint(completed)
        raise
    except (jax.errors.JaxRuntimeError, ValueError) as e:
        # A failed solve inside the compiled step: raise it as the `NewtonError` it is.
        newton = as_newton_error(e)
        if newton is None:
            raise
        raise newton from None
    checkpoint(completed)
    return state, history
