"""The plain kernels: h_t = A_t h_{t∓1} + b_t for diagonal (real or complex) and k×k
block-diagonal A_t, forward or reverse."""

import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array

from .._structures import AbstractStructure, BlockDiagonal, Diagonal
from . import _ops
from ._driver import SeqInput, Source, accumulation_dtype, plan, run


class _Loaded(Source):
    """Steps read from memory: `a` (T, C, na) and `b` (T, C, k)."""

    def __init__(self, op, acc):
        self.op, self.acc = op, acc

    def load(self, t, seq_refs, consts, carry):
        a_ref, b_ref = seq_refs
        a = tuple(a_ref[t, :, c].astype(self.acc) for c in range(self.op.na))
        b = tuple(b_ref[t, :, c].astype(self.acc) for c in range(self.op.k))
        return a, b, carry, ()


def supports(structure: AbstractStructure, max_block: int) -> bool:
    """Whether the kernels solve recurrences of this structure."""
    if isinstance(structure, Diagonal):
        return True
    return isinstance(structure, BlockDiagonal) and structure.k <= max_block


def scan(
    structure: AbstractStructure,
    a: Array,
    b: Array,
    h0: Array,
    reverse: bool,
    *,
    batch: int = 1,
    chunk: int | None = None,
    block: int | None = None,
    compiler_params=None,
    interpret: bool = False,
) -> Array:
    """h_1..h_T (T, N) of h_t = a_t h_{t∓1} + b_t by a kernel (see `_driver` for the design
    and its rule); `a` in the layout of `structure`, (T, N) or (T, N/k, k, k)."""
    T, N = b.shape
    complex_ = jnp.issubdtype(b.dtype, jnp.complexfloating)
    acc = accumulation_dtype(a.dtype, b.dtype, h0.dtype)
    out_dtype = b.dtype
    if isinstance(structure, Diagonal) and complex_:
        op = _ops.complex_diagonal()
        a2 = jnp.stack([a.real, a.imag], -1)  # (T, N, 2)
        b2 = jnp.stack([b.real, b.imag], -1)
        h2 = jnp.stack([h0.real, h0.imag])  # (2, N)
        C, out_dtype = N, b.real.dtype
    elif isinstance(structure, Diagonal):
        op = _ops.diagonal()
        a2, b2, h2, C = a[..., None], b[..., None], h0[None], N
    else:
        k = structure.k
        op = _ops.block(k)
        C = N // k
        a2 = a.reshape(T, C, k * k)
        b2 = b.reshape(T, C, k)
        h2 = h0.reshape(C, k).T
    bl, L = plan(T, C, batch, chunk=chunk, block=block)
    h, _ = run(
        _Loaded(op, acc),
        op,
        (SeqInput(a2, 1), SeqInput(b2, 1)),
        (),
        h2,
        T=T,
        C=C,
        block=bl,
        chunk=L,
        reverse=reverse,
        acc=acc,
        out_dtype=out_dtype,
        compiler_params=compiler_params,
        interpret=interpret,
    )
    if op.kind == "complex":
        return lax.complex(h[..., 0], h[..., 1]).astype(b.dtype)
    return h.reshape(T, N)
