"""The solver statistics of a training step, sent to the host for `paratime.train` to log.

`paratime.train.make_step` traces its step inside `recording(log, step)`. While it is
active, every parallel solve (`unroll` with an iterative solver, so every `paratime.nn`
layer) adds one host callback to the program that hands its Newton iterations, whether it
fell back, and its residual to `log`, tagged with the step. Nothing is added to programs
traced outside a recording, so `unroll` elsewhere costs nothing. Under `jax.vmap` the
callback receives the whole batch at once (a `custom_vmap` rule), not one call per
sequence.
"""

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap

_ACTIVE = threading.local()
# At most this many steps are kept unread (a jitted function traced inside a training step
# and called again elsewhere still reports, with that step's number).
KEEP_STEPS = 64


class SolveLog:
    """What the solves of each training step reported, collected on the host.

    Filled by host callbacks (one per solve per step, with every sequence of a batch);
    `pop(step)` returns and forgets a step's summary.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    def add(self, step: Any, num_steps: Any, fallback: Any, residual: Any) -> None:
        entry = (np.ravel(num_steps), np.ravel(fallback), np.ravel(residual))
        with self._lock:
            self._steps.setdefault(int(np.ravel(step)[0]), []).append(entry)
            while len(self._steps) > KEEP_STEPS:  # a program traced for training, run later
                del self._steps[min(self._steps)]

    def pop(self, step: int) -> dict[str, float]:
        """The summary of `step`'s solves (empty if none reported):

        - `newton_iters`: the most Newton iterations any sequence took;
        - `fallbacks`: how many sequences fell back to the exact re-solve;
        - `residual`: the largest final residual max|h_t − f(h_{t−1}, x_t)| of the parallel
          solves (before any fallback).
        """
        with self._lock:
            entries = self._steps.pop(step, [])
            for old in [s for s in self._steps if s < step]:  # never read (not logged)
                del self._steps[old]
        if not entries:
            return {}
        k, fb, res = (np.concatenate(parts) for parts in zip(*entries))
        return {
            "newton_iters": float(np.max(k)),
            "fallbacks": float(np.sum(fb)),
            "residual": float(np.max(res)),
        }


@contextlib.contextmanager
def recording(log: SolveLog, step: Any) -> Iterator[None]:
    """While tracing: the solves traced inside report to `log`, tagged with `step`."""
    stack = getattr(_ACTIVE, "stack", [])
    _ACTIVE.stack = stack + [(log, step)]
    try:
        yield
    finally:
        _ACTIVE.stack = stack


def record(stats: dict[str, Any], solver: Any) -> None:
    """Send `stats` (`num_steps`, `residual`, `fallback_used` if present) of a solve by
    `solver` to the active recording, if any and if `solver` iterates (at trace time;
    nothing is added otherwise)."""
    from ._solver import LinearScan, Sequential

    stack = getattr(_ACTIVE, "stack", [])
    if not stack or isinstance(solver, (Sequential, LinearScan)):
        return
    log, step = stack[-1]
    k = jnp.asarray(stats["num_steps"])
    fb = jnp.asarray(stats.get("fallback_used", jnp.zeros_like(k, dtype=bool)))
    res = jnp.asarray(stats["residual"]).real.astype(jnp.float32)
    args = jax.lax.stop_gradient((jnp.asarray(step), k, fb, res))

    @custom_vmap
    def emit(*args):
        jax.debug.callback(log.add, *args)
        return args[1]

    @emit.def_vmap
    def rule(axis_size, in_batched, *args):
        # The batch is an ordinary axis now: one callback with every sequence (and for an
        # enclosing vmap, this rule again). The step is never batched.
        args = [
            a if b or i == 0 else jnp.broadcast_to(a, (axis_size,) + a.shape)
            for i, (a, b) in enumerate(zip(args, in_batched))
        ]
        return emit(*args), True

    emit(*args)
