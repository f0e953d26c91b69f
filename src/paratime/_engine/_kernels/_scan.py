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
        if self.op.k == 1:  # (L, 1, BC)
            return (a_ref[t, 0, :].astype(self.acc),), (b_ref[t, 0, :].astype(self.acc),), carry, ()
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
    settings=lambda block: {"compiler_params": None, "interpret": True},
) -> Array:
    """h_1..h_T (T, N) of h_t = a_t h_{t∓1} + b_t by a kernel (see `_driver` for the design
    and its rule); `a` in the layout of `structure`, (T, N) or (T, N/k, k, k); `settings`
    maps the channels per program to the kernels' `compiler_params` and `interpret`."""
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
        a2, b2, h2, C = a[:, None], b[:, None], h0[None], N  # (T, 1, N): channels last
    else:
        assert isinstance(structure, BlockDiagonal)
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
        (SeqInput(a2, 2 if op.k == 1 else 1), SeqInput(b2, 2 if op.k == 1 else 1)),
        (),
        h2,
        T=T,
        C=C,
        block=bl,
        chunk=L,
        reverse=reverse,
        acc=acc,
        out_dtype=out_dtype,
        **settings(bl),
    )
    if op.kind == "complex":
        return lax.complex(h[..., 0], h[..., 1]).astype(b.dtype)
    return h.reshape(T, N)  # (T, 1, N) or (T, N/k, k)
