"""Linear recurrences with the time axis sharded over devices (`jax.shard_map`): the
mechanics behind `paratime.recurrences.Sharded`.

Each device holds one contiguous chunk of T. A solve takes three phases:

1. a local scan of the chunk from a zero state, giving the chunk's cumulative maps
   (A_t, B_t) with h_t = A_t h_in + B_t, where h_in is the state entering the chunk;
2. an exchange of the chunk summaries (A_last, B_last), either with one `all_gather`
   (every device then composes the P summaries itself) or with a log2(P)-round
   Hillis–Steele prefix over devices built from `ppermute`;
3. a local fix-up h_t = A_t h_in + B_t with the chunk's now-known entry state h_in.

Only phase 2 communicates, and its volume does not depend on T. This module knows only
structures and JAX: the recurrence strategy (`_recurrences.Sharded`) and the Newton solvers
call it, never the reverse.
"""

import functools as ft
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.sharding import AxisType, Mesh, PartitionSpec
from jaxtyping import Array

from ._structures import AbstractStructure

Exchange = Literal["auto", "all_gather", "ppermute"]
EXCHANGES = ("auto", "all_gather", "ppermute")

# Above this many devices the log2(P)-round ppermute prefix beats a ring all_gather, whose
# latency grows with P − 1 steps (the model in docs/scaling.md).
AUTO_ALL_GATHER_MAX_DEVICES = 8


def resolve_exchange(exchange: Exchange, num: int) -> Literal["all_gather", "ppermute"]:
    """The exchange that `"auto"` stands for on `num` devices."""
    if exchange == "auto":
        return "all_gather" if num <= AUTO_ALL_GATHER_MAX_DEVICES else "ppermute"
    return exchange


def auto_mesh(mesh: Mesh) -> Mesh:
    """The same devices and axis names with every axis of type `Auto`.

    `jax.make_mesh` gives `Explicit` axes by default, and `shard_map` over an explicit axis
    demands inputs already sharded that way; over an `Auto` axis it reshards plain inputs
    itself, under `jit` and `vmap` alike.
    """
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def shard_over_time(
    fn: Callable, mesh: Mesh, axis_name: str, replicated: tuple, timed: tuple, out_timed: tuple
) -> Any:
    """`fn(*replicated, *timed)` inside `shard_map`: each device gets its own chunk of the
    leading (time) axis of every leaf of `timed` and the whole of `replicated`; an output is
    gathered along time where `out_timed` (a tuple of bools, one per output) says so."""
    time, rep = PartitionSpec(axis_name), PartitionSpec()
    in_specs = (rep,) * len(replicated) + (time,) * len(timed)
    out_specs = tuple(time if t else rep for t in out_timed)
    return jax.shard_map(fn, mesh=auto_mesh(mesh), in_specs=in_specs, out_specs=out_specs)(
        *replicated, *timed
    )


def shift(x: Any, axis_name: str, num: int, by: int, reverse: bool) -> Any:
    """Send `x` from scan position p to scan position p + `by` (zeros where nothing arrives)."""
    # Scan position p lives on device p (forward) or device num - 1 - p (reverse).
    if reverse:
        perm = [(d, d - by) for d in range(by, num)]
    else:
        perm = [(d, d + by) for d in range(num - by)]
    return lax.ppermute(x, axis_name, perm)


def entering(h0: Array, s: Array, axis_name: str, num: int) -> Array:
    """The state before this device's first step of the trajectory `s`: `h0` on the first
    device, else the last state of the left neighbour's chunk (one `ppermute` of N numbers)."""
    incoming = shift(s[-1], axis_name, num, 1, reverse=False)
    return jnp.where(lax.axis_index(axis_name) == 0, h0, incoming)


def _scan_from(structure: AbstractStructure, a: Array, b: Array, h0: Array) -> Array:
    """h_t = a_t h_{t−1} + b_t from h0, by a sequential `lax.scan`."""

    def step(h, ab):
        h = structure.apply(ab[0], h) + ab[1]
        return h, h

    return lax.scan(step, h0, (a, b))[1]


def _entry_state(
    structure: AbstractStructure,
    a_last: Array,
    b_last: Array,
    h0: Array,
    *,
    axis_name: str,
    num: int,
    reverse: bool,
    exchange: Literal["all_gather", "ppermute"],
) -> Array:
    """The state entering this device's chunk, from every chunk's summary (a_last, b_last)."""
    index = lax.axis_index(axis_name)
    position = num - 1 - index if reverse else index
    if exchange == "all_gather":
        a_all = lax.all_gather(a_last, axis_name)
        b_all = lax.all_gather(b_last, axis_name)
        if reverse:
            a_all, b_all = a_all[::-1], b_all[::-1]
        # The state after each chunk: a parallel scan of the P summaries.
        b_all = b_all.at[0].add(structure.apply(a_all[0], h0))
        ends = lax.associative_scan(structure.combine, (a_all, b_all))[1]
        entries = jnp.concatenate([h0[None], ends[:-1]])
        return entries[position]
    # Hillis–Steele inclusive prefix over devices: after the round with offset d, each device
    # holds the composition of the (up to) 2d chunks ending at its own.
    a_acc, b_acc = a_last, b_last
    offset = 1
    while offset < num:
        a_in, b_in = shift((a_acc, b_acc), axis_name, num, offset, reverse)
        a_new, b_new = structure.combine((a_in, b_in), (a_acc, b_acc))
        has_left = position >= offset
        a_acc = jnp.where(has_left, a_new, a_acc)
        b_acc = jnp.where(has_left, b_new, b_acc)
        offset *= 2
    end = structure.apply(a_acc, h0) + b_acc
    entry = shift(end, axis_name, num, 1, reverse)
    return jnp.where(position == 0, h0, entry)


def local_solve(
    structure: AbstractStructure,
    a: Array,
    b: Array,
    h0: Array,
    reverse: bool,
    *,
    axis_name: str,
    num: int,
    exchange: Exchange,
    sequential: bool,
) -> Array:
    """The per-device body of a sharded solve (call it inside `shard_map`): local scan,
    summary exchange, fix-up, on this device's chunk of `a` and `b`.

    Associative (`sequential=False`): one parallel scan gives every prefix map (A_t, B_t);
    the fix-up is h_t = A_t h_in + B_t. Sequential (fewer operations, for CPUs): a
    `lax.scan` folds the chunk's summary, and after the exchange a second `lax.scan` runs the
    chunk from h_in.
    """
    T_local, N = b.shape
    if reverse:
        a, b = a[::-1], b[::-1]
    combine = structure.combine
    if sequential:
        # Derived from the local data, so that the carry is typed as varying per device.
        eye = structure.identity(structure.size(a), a.dtype)
        start = (eye + jnp.zeros_like(a[0]), jnp.zeros_like(b[0]))
        a_last, b_last = lax.scan(lambda acc, ab: (combine(acc, ab), None), start, (a, b))[0]
    else:
        a_cum, b_cum = lax.associative_scan(combine, (a, b))
        a_last, b_last = a_cum[-1], b_cum[-1]
    h_in = _entry_state(
        structure,
        a_last,
        b_last,
        h0,
        axis_name=axis_name,
        num=num,
        reverse=reverse,
        exchange=resolve_exchange(exchange, num),
    )
    if sequential:
        h = _scan_from(structure, a, b, h_in)
    else:
        h = jax.vmap(lambda a_t, b_t: structure.apply(a_t, h_in) + b_t)(a_cum, b_cum)
    h = h.reshape(T_local, N)
    return h[::-1] if reverse else h


@ft.lru_cache(maxsize=64)
def compiled_solve(structure, mesh, axis_name, reverse, exchange, sequential):
    """A jitted `shard_map` of `local_solve` (eager `shard_map` runs op by op, slowly)."""

    def body(a, b, h0):
        return local_solve(
            structure,
            a,
            b,
            h0,
            reverse,
            axis_name=axis_name,
            num=mesh.shape[axis_name],
            exchange=exchange,
            sequential=sequential,
        )

    time = PartitionSpec(axis_name)
    return jax.jit(
        jax.shard_map(
            body, mesh=auto_mesh(mesh), in_specs=(time, time, PartitionSpec()), out_specs=time
        )
    )


def varying_axes(tree: Any) -> frozenset:
    """The `shard_map` mesh axes over which some array of `tree` varies (empty outside)."""
    axes: set = set()
    for x in jax.tree_util.tree_leaves(tree):
        if isinstance(x, jax.Array):
            aval = jax.typeof(x)
            varying = getattr(getattr(aval, "mat", None), "varying", None)
            axes |= set(varying or getattr(aval, "vma", None) or ())
    return frozenset(axes)


def match_varying(x: Array, axes: frozenset) -> Array:
    """Mark `x` as varying over `axes` inside `shard_map`, so loop carries have one type."""
    missing = tuple(sorted(axes - varying_axes(x)))
    return lax.pcast(x, missing, to="varying") if missing else x
