"""`Pallas()`: the recurrence strategy that solves linear recurrences by the kernels, and runs
the fused Newton iteration of the cells that offer one."""

import equinox as eqx

from .._batching import vmap_batch_size
from .._platform import platform
from .._recurrences import AbstractRecurrence, Associative


class Pallas(AbstractRecurrence):
    """Linear recurrences solved by Pallas kernels; with `DEER`/`QuasiDEER` on a cell that
    offers one (`DiagonalGRU`, `DiagonalLSTM`), each Newton iteration is one fused kernel.

    Diagonal (real or complex) and `BlockDiagonal(k)` transitions with k ≤ `max_block` run
    in the kernels; denser ones fall back to `Associative()`. Forward and reverse (the
    adjoint's reverse recurrence runs in the same kernels); float32 and bfloat16 inputs
    accumulate in float32, float64 in float64. How the work is split (one pass over time with
    channels blocked across programs, or chunks of time: a summary pass, a carry scan over
    the chunks and a rescan) is chosen from the shape; see docs/solvers.md.

    Opt-in: the default strategy stays the XLA one (`Associative()` on accelerators) until a
    GPU measurement exists. On a CPU the kernels run in Pallas' interpret mode (slow: for
    tests).

    **Arguments:**

    - `chunk`: steps per chunk (None: chosen from the shape; ≥ T: one pass).
    - `block`: channels per program, a power of two (None: min(128, N rounded up)).
    - `interpret`: run in interpret mode (None: on a CPU only).
    - `max_block`: the largest block size k run in the kernels.

    **Example:**

    ```python
    solver = paratime.DEER(recurrence=paratime.recurrences.Pallas())
    ```
    """

    chunk: int | None = eqx.field(default=None, static=True)
    block: int | None = eqx.field(default=None, static=True)
    interpret: bool | None = eqx.field(default=None, static=True)
    max_block: int = eqx.field(default=4, static=True)

    def __check_init__(self):
        for name in ("chunk", "block"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"`{name}` must be a positive int or None; got {v!r}.")
        if self.block is not None and self.block & (self.block - 1):
            raise ValueError(f"`block` must be a power of two; got {self.block}.")
        if self.interpret not in (None, True, False):
            raise ValueError(f"`interpret` must be a bool or None; got {self.interpret!r}.")

    def kernel_settings(self, block: int) -> dict:
        """The `compiler_params` and `interpret` arguments of the kernels: Pallas' Triton
        backend, one warp per 32 channels of a program (at most 4)."""
        from jax.experimental.pallas import triton  # (imported when first used)

        interpret = platform() == "cpu" if self.interpret is None else self.interpret
        params = triton.CompilerParams(num_warps=max(1, min(4, block // 32)), num_stages=2)
        return {"compiler_params": params, "interpret": interpret}

    def solve(self, structure, a, b, h0, reverse):
        from ._scan import scan, supports

        if not supports(structure, self.max_block):
            return Associative().solve(structure, a, b, h0, reverse)
        return scan(
            structure,
            a,
            b,
            h0,
            reverse,
            batch=vmap_batch_size((a, b)),
            chunk=self.chunk,
            block=self.block,
            settings=self.kernel_settings,
        )
