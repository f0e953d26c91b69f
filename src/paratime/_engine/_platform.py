"""The platform the engine builds programs for.

Choices that depend on the hardware (the sequential or the associative scan, blocked
evaluation, `Auto`'s solver, batching one sequence at a time on a CPU) read `platform()`:
the default backend, unless `for_platform` names another one while a program is traced, e.g.
to lower it for a GPU or TPU on a machine that has none.
"""

import contextlib
import contextvars
from collections.abc import Iterator

import jax

_TARGET: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "paratime_platform", default=None
)
PLATFORMS = ("cpu", "cuda", "rocm", "gpu", "tpu")


def platform() -> str:
    """`"cpu"`, `"gpu"` or `"tpu"`: the platform programs are being built for."""
    target = _TARGET.get()
    if target is None:
        target = jax.default_backend()
    return "gpu" if target in ("cuda", "rocm") else target


@contextlib.contextmanager
def for_platform(name: str) -> Iterator[None]:
    """Trace paratime programs for the platform `name` (`"cpu"`, `"cuda"`, `"rocm"`,
    `"gpu"` or `"tpu"`) instead of the default backend.

    Use it around `jax.jit(f).trace(...)` and `.lower(lowering_platforms=(name,))` to build
    (and check) the program an accelerator would run, on a machine without one. JAX caches
    the trace of a jitted function: trace a fresh function (not one already traced for
    another platform) inside the block.

    **Example:**

    ```python
    with paratime.for_platform("cuda"):
        lowered = jax.jit(f).trace(cell, h0, xs).lower(lowering_platforms=("cuda",))
    ```
    """
    if name not in PLATFORMS:
        raise ValueError(f"`name` must be one of {PLATFORMS}; got {name!r}.")
    token = _TARGET.set(name)
    try:
        yield
    finally:
        _TARGET.reset(token)
