"""One driver for every kernel: a linear recurrence over time whose steps (A_t, b_t) a
*source* produces on the fly, channels blocked across programs.

Two designs, picked from the shape (`plan`):

- **one pass** (many channels): one program per block of `BC` channels runs all T steps in
  sequence; it reads each step once and writes each state once (the byte minimum).
- **chunked** (few channels, long T): time is cut into chunks of L steps, so that there are
  enough programs to fill the device. Pass 1 (*summary*) composes each chunk's steps into one
  transition (A_c, B_c) and writes only those; the *carry pass* (XLA, an associative scan over
  the C = T/L chunk summaries) gives each chunk its starting state; pass 2 (*scan*) runs each
  chunk again from its starting state and writes the states. The steps are read twice and
  the states written once (reduce-then-scan: one read of the steps fewer than scanning each
  chunk from zero and fixing the states up afterwards).

The rule: with B the batch (the `jax.vmap` axes around the solve) and P = B·⌈N/BC⌉ programs
of the one-pass design, one pass when P ≥ `TARGET_PROGRAMS` or T < 2·`MIN_CHUNK`; otherwise
about `TARGET_PROGRAMS`/P chunks of at least `MIN_CHUNK` steps.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from ._ops import Op

# One program per block of BLOCK_CHANNELS channels (a power of two: Triton's tiles are).
BLOCK_CHANNELS = 128
# Enough programs for an H100/H200 (132 SMs, several resident programs each).
TARGET_PROGRAMS = 1024
MIN_CHUNK = 128


def next_power_of_2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def plan(
    T: int, C: int, batch: int = 1, *, chunk: int | None = None, block: int | None = None
) -> tuple[int, int]:
    """`(block, chunk)`: channels per program and steps per chunk (chunk ≥ T: one pass)."""
    block = block or min(BLOCK_CHANNELS, next_power_of_2(C))
    if chunk is None:
        programs = batch * -(-C // block)
        if programs >= TARGET_PROGRAMS or T < 2 * MIN_CHUNK:
            chunk = T
        else:
            chunks = min(-(-TARGET_PROGRAMS // programs), T // MIN_CHUNK)
            chunk = -(-T // chunks)
    return block, max(1, min(chunk, T))


class SeqInput(NamedTuple):
    """An array with time on axis 0 and channels on axis `channel_axis`."""

    array: Any
    channel_axis: int


class Source:
    """What produces the steps. `seq` are the (T, ...) inputs, `chunk` (C, ·, N) inputs read
    once per program (as `(k, BC)` tiles), `consts` (P, N) per-channel constants.

    `init(chunk_refs, acc)` gives the source's own carry; `load(t, seq_refs, consts, carry)`
    returns `(a, b, carry, stats)` for local step t (tuples of (BC,) vectors in `acc`);
    `stats` (`num_stats` vectors) are reduced over the steps by maximum.
    """

    num_stats: int = 0

    def init(self, chunk_refs, acc) -> Any:
        return ()

    def load(self, t, seq_refs, consts, carry) -> tuple[tuple, tuple, Any, tuple]:
        raise NotImplementedError


def _kernel(*refs, source, op, mode, L, T, block, reverse, nseq, nchunk, nconst, acc, has_carry):
    seq = refs[:nseq]
    at = nseq
    chunk_refs = refs[at : at + nchunk]
    at += nchunk
    carry_ref = refs[at] if has_carry else None
    at += has_carry
    consts = refs[at : at + nconst]
    at += nconst
    outs = refs[at:]
    i = pl.program_id(0)
    n = jnp.minimum(L, T - i * L)
    cvals = tuple(tuple(c[p, :].astype(acc) for p in range(c.shape[0])) for c in consts)
    scarry = source.init(chunk_refs, acc)
    k, na, ns = op.k, op.na, source.num_stats
    zero = jnp.zeros((block,), acc)
    stats = tuple(jnp.full((block,), -jnp.inf, acc) for _ in range(ns))
    if mode == "scan":
        assert carry_ref is not None
        h = tuple(carry_ref[c, :].astype(acc) for c in range(k))
        state = h
    else:
        state = (op.identity(zero), tuple(zero for _ in range(k)))

    def body(s, carry):
        state, scarry, stats = carry
        t = n - 1 - s if reverse else s
        a, b, scarry, new = source.load(t, seq, cvals, scarry)
        stats = tuple(jnp.maximum(x, y) for x, y in zip(stats, new))
        if mode == "scan":
            state = op.step(a, state, b)
            for c in range(k):
                if k == 1:
                    outs[0][t, 0, :] = state[0].astype(outs[0].dtype)
                else:
                    outs[0][t, :, c] = state[c].astype(outs[0].dtype)
        else:
            A, B = state
            state = (op.compose(a, A), op.step(a, B, b))
        return state, scarry, stats

    state, _, stats = lax.fori_loop(0, n, body, (state, scarry, stats))
    if mode == "summary":
        A, B = state
        for c in range(na):
            outs[0][c, :] = A[c].astype(outs[0].dtype)
        for c in range(k):
            outs[1][c, :] = B[c].astype(outs[1].dtype)
    for j in range(ns):
        outs[len(outs) - ns + j][...] = stats[j].astype(outs[len(outs) - ns + j].dtype)


def _pad(x, axis: int, size: int):
    extra = size - x.shape[axis]
    if not extra:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return jnp.pad(x, widths)


def _call(
    source,
    op,
    mode,
    seq,
    chunk_inputs,
    consts,
    carry,
    *,
    T,
    C,
    block,
    L,
    reverse,
    acc,
    out_dtype,
    compiler_params,
    interpret,
):
    nc = -(-T // L)
    Cp = -(-C // block) * block
    grid = (nc, Cp // block)

    def seq_spec(x: SeqInput):
        shape = [L] + list(x.array.shape[1:])
        shape[x.channel_axis] = block
        ax = x.channel_axis

        def index(i, j):
            return tuple(i if d == 0 else (j if d == ax else 0) for d in range(len(shape)))

        return pl.BlockSpec(tuple(shape), index)

    def chunk_spec(x):  # (nc, rows, C)
        return pl.BlockSpec((None, x.shape[1], block), lambda i, j: (i, 0, j))

    def const_spec(x):  # (P, C)
        return pl.BlockSpec((x.shape[0], block), lambda i, j: (0, j))

    args, specs = [], []
    for x in seq:
        args.append(_pad(x.array, x.channel_axis, Cp))
        specs.append(seq_spec(x))
    for x in chunk_inputs:
        args.append(_pad(x, 2, Cp))
        specs.append(chunk_spec(x))
    if carry is not None:
        args.append(_pad(carry, 2, Cp))
        specs.append(chunk_spec(carry))
    for x in consts:
        args.append(_pad(x, 1, Cp))
        specs.append(const_spec(x))
    stat_shape = jax.ShapeDtypeStruct((nc, Cp), acc)
    stat_spec = pl.BlockSpec((None, block), lambda i, j: (i, j))
    if mode == "scan":
        if op.k == 1:  # (T, 1, C): channels last, as Mosaic GPU's copies want them
            out_shape = [jax.ShapeDtypeStruct((T, 1, Cp), out_dtype)]
            out_specs = [pl.BlockSpec((L, 1, block), lambda i, j: (i, 0, j))]
        else:  # (T, C, k): the units' components interleaved, as a ravelled state has them
            out_shape = [jax.ShapeDtypeStruct((T, Cp, op.k), out_dtype)]
            out_specs = [pl.BlockSpec((L, block, op.k), lambda i, j: (i, j, 0))]
    else:
        out_shape = [
            jax.ShapeDtypeStruct((nc, op.na, Cp), acc),
            jax.ShapeDtypeStruct((nc, op.k, Cp), acc),
        ]
        out_specs = [chunk_spec(out_shape[0]), chunk_spec(out_shape[1])]
    out_shape += [stat_shape] * source.num_stats
    out_specs += [stat_spec] * source.num_stats
    kernel = functools.partial(
        _kernel,
        source=source,
        op=op,
        mode=mode,
        L=L,
        T=T,
        block=block,
        reverse=reverse,
        nseq=len(seq),
        nchunk=len(chunk_inputs),
        nconst=len(consts),
        acc=acc,
        has_carry=carry is not None,
    )
    outs = pl.pallas_call(
        kernel,
        out_shape=out_shape,
        grid=grid,
        in_specs=specs,
        out_specs=out_specs,
        compiler_params=compiler_params,
        interpret=interpret,
        name=f"paratime_{mode}",
    )(*args)
    if mode == "scan" and op.k > 1:  # (T, C, k); every other output has channels last
        return [outs[0][:, :C]] + [o[..., :C] for o in outs[1:]]
    return [o[..., :C] for o in outs]


def _carries(op: Op, A, B, h0, reverse: bool):
    """Each chunk's starting state from the chunk summaries `A` (C, na, N), `B` (C, k, N) and
    `h0` (k, N): an associative scan over the chunks (in XLA; C is small)."""
    As = tuple(A[:, c] for c in range(op.na))
    Bs = tuple(B[:, c] for c in range(op.k))

    def combine(e1, e2):  # e1 first, then e2 (in the direction of the recurrence)
        (a1, b1), (a2, b2) = e1, e2
        return op.compose(a2, a1), op.step(a2, b1, b2)

    # (With reverse=True, `associative_scan` scans the flipped sequence: still e1 first.)
    PA, PB = lax.associative_scan(combine, (As, Bs), reverse=reverse)
    h0s = tuple(h0[c] for c in range(op.k))
    ends = jnp.stack(op.step(PA, tuple(h[None] for h in h0s), PB), axis=1)  # (C, k, N)
    h0b = h0[None].astype(ends.dtype)
    if reverse:
        return jnp.concatenate([ends[1:], h0b])
    return jnp.concatenate([h0b, ends[:-1]])


def run(
    source: Source,
    op: Op,
    seq: Sequence[SeqInput],
    consts: Sequence[Any],
    h0,
    *,
    chunk_inputs: Callable[[int], Sequence[Any]] = lambda L: (),
    T: int,
    C: int,
    block: int,
    chunk: int,
    reverse: bool,
    acc,
    out_dtype,
    compiler_params,
    interpret: bool,
):
    """The states ((T, 1, C) if k = 1, else (T, C, k)) of the recurrence whose steps
    `source` produces, from `h0` (k, C), and the source's statistics (each (chunks, C)), by
    the design `chunk` implies."""
    L = chunk
    nc = -(-T // L)
    common = dict(
        T=T,
        C=C,
        block=block,
        L=L,
        reverse=reverse,
        acc=acc,
        out_dtype=out_dtype,
        compiler_params=compiler_params,
        interpret=interpret,
    )
    chunk_in = tuple(chunk_inputs(L))
    if nc == 1:
        carry = h0[None].astype(acc)
    else:
        A, B, *_ = _call(source, op, "summary", seq, chunk_in, consts, None, **common)
        carry = _carries(op, A, B, h0.astype(acc), reverse)
    h, *stats = _call(source, op, "scan", seq, chunk_in, consts, carry, **common)
    return h, stats


def as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def accumulation_dtype(*dtypes) -> Any:
    """float64 if any input is (complex) float64, else float32."""
    wide = any(jnp.finfo(jnp.dtype(d)).bits == 64 for d in dtypes)
    return jnp.float64 if wide else jnp.float32
