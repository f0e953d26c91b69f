"""Linear recurrences with the time axis sharded over devices (`jax.shard_map`).

Each device holds one contiguous chunk of T. A solve takes three phases:

1. a local associative scan of the chunk from a zero state, giving the chunk's cumulative
   maps (A_t, B_t) with h_t = A_t h_in + B_t, where h_in is the state entering the chunk;
2. an exchange of the chunk summaries (A_last, B_last), either with one `all_gather`
   (every device then composes the P summaries itself) or with a log2(P)-round
   Hillis–Steele prefix over devices built from `ppermute`;
3. a local fix-up h_t = A_t h_in + B_t with the chunk's now-known entry state h_in.

Only phase 2 communicates, and its volume does not depend on T.
"""

import functools as ft
from typing import Literal

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.sharding import AxisType, Mesh, PartitionSpec
from jaxtyping import Array, Inexact

from ._scan import Structure, _apply, _combine, _scan_with_h0, _structure, linear_recurrence

Exchange = Literal["all_gather", "ppermute"]


def auto_mesh(mesh: Mesh) -> Mesh:
    """The same devices and axis names with every axis of type `Auto`.

    `jax.make_mesh` gives `Explicit` axes by default, and `shard_map` over an explicit axis
    demands inputs already sharded that way; over an `Auto` axis it reshards plain inputs
    itself, under `jit` and `vmap` alike.
    """
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def _shift(x: Array, axis_name: str, num: int, by: int, reverse: bool) -> Array:
    """Send `x` from scan position p to scan position p + `by` (zeros where nothing arrives)."""
    # Scan position p lives on device p (forward) or device num - 1 - p (reverse).
    if reverse:
        perm = [(d, d - by) for d in range(by, num)]
    else:
        perm = [(d, d + by) for d in range(num - by)]
    return lax.ppermute(x, axis_name, perm)


def _entry_state(
    structure: Structure,
    a_last: Array,
    b_last: Array,
    h0: Array,
    *,
    axis_name: str,
    num: int,
    reverse: bool,
    exchange: Exchange,
) -> Array:
    """The state entering this device's chunk, from every chunk's summary (a_last, b_last)."""
    index = lax.axis_index(axis_name)
    position = num - 1 - index if reverse else index
    if exchange == "all_gather":
        a_all = lax.all_gather(a_last, axis_name)
        b_all = lax.all_gather(b_last, axis_name)
        if reverse:
            a_all, b_all = a_all[::-1], b_all[::-1]
        ends = _scan_with_h0(structure, a_all, b_all, h0)  # state after each chunk
        entries = jnp.concatenate([h0[None], ends[:-1]])
        return entries[position]
    # Hillis–Steele inclusive prefix over devices: after the round with offset d, each device
    # holds the composition of the (up to) 2d chunks ending at its own.
    combine = _combine(structure)
    a_acc, b_acc = a_last, b_last
    offset = 1
    while offset < num:
        a_in, b_in = _shift((a_acc, b_acc), axis_name, num, offset, reverse)
        a_new, b_new = combine((a_in, b_in), (a_acc, b_acc))
        has_left = position >= offset
        a_acc = jnp.where(has_left, a_new, a_acc)
        b_acc = jnp.where(has_left, b_new, b_acc)
        offset *= 2
    end = _apply(structure, a_acc, h0) + b_acc
    entry = _shift(end, axis_name, num, 1, reverse)
    return jnp.where(position == 0, h0, entry)


def _local_solve(
    a: Array,
    b: Array,
    h0: Array,
    *,
    structure: Structure,
    axis_name: str,
    num: int,
    reverse: bool,
    exchange: Exchange,
) -> Array:
    """The per-device body: local scan, summary exchange, fix-up. Works on local chunks."""
    T_local, N = b.shape
    if reverse:
        a, b = a[::-1], b[::-1]
    if structure == "block":
        K, B = a.shape[1], a.shape[2]
        b = b.reshape(T_local, K, B)
        h0 = h0.reshape(K, B)
    a_cum, b_cum = lax.associative_scan(_combine(structure), (a, b))
    h_in = _entry_state(
        structure,
        a_cum[-1],
        b_cum[-1],
        h0,
        axis_name=axis_name,
        num=num,
        reverse=reverse,
        exchange=exchange,
    )
    h = jax.vmap(lambda a_t, b_t: _apply(structure, a_t, h_in) + b_t)(a_cum, b_cum)
    h = h.reshape(T_local, N)
    return h[::-1] if reverse else h


def sharded_linear_recurrence(
    a: Inexact[Array, "T N"] | Inexact[Array, "T N N"] | Inexact[Array, "T K B B"],
    b: Inexact[Array, "T N"],
    h0: Inexact[Array, " N"],
    *,
    mesh: Mesh,
    axis_name: str = "time",
    reverse: bool = False,
    exchange: Exchange = "all_gather",
) -> Inexact[Array, "T N"]:
    """Solve h_t = a_t h_{t-1} + b_t with the time axis sharded over the devices of a mesh.

    The same recurrence as `paratime.linear_recurrence` (same shapes, structures, dtypes and
    `reverse` convention), computed with `jax.shard_map`: each device scans its own chunk of T,
    the devices exchange one (a, b) summary per chunk, and each fixes up its chunk locally.
    The result is sharded along time in the same way. Works under `jax.jit` and `jax.vmap`,
    and across hosts after `jax.distributed.initialize()` (see `docs/scaling.md`).

    **Arguments:**

    - `a`: the transition, (T, N) diagonal, (T, N, N) dense or (T, K, B, B) block-diagonal.
    - `b`: the inputs, shape (T, N).
    - `h0`: the initial (or, with `reverse=True`, terminal) state, shape (N,); replicated.
    - `mesh`: a `jax.sharding.Mesh` with an axis named `axis_name`.
    - `axis_name`: the mesh axis the time axis is split over. T must be divisible by its size.
    - `reverse`: run the recurrence backwards in time (the adjoint form).
    - `exchange`: how chunk summaries travel. `"all_gather"`: one collective moving P summaries
        to every device (fewest rounds; best for small P or diagonal `a`). `"ppermute"`:
        ceil(log2 P) rounds of neighbour sends of one summary each (less volume for dense `a`
        and large P).

    **Returns:**

    The states h_1..h_T, shape (T, N), sharded over `axis_name` along time.

    **Raises:**

    `ValueError` for shapes `paratime.linear_recurrence` rejects, a missing mesh axis, a T not
    divisible by the axis size, or an unknown `exchange`.

    **Example:**

    ```python
    mesh = jax.make_mesh((4,), ("time",))
    a, b = jnp.full((1024, 8), 0.9), jnp.ones((1024, 8))
    h = paratime.sharded_linear_recurrence(a, b, jnp.zeros(8), mesh=mesh)
    ```
    """
    if not isinstance(mesh, Mesh):
        raise ValueError(f"`mesh` must be a jax.sharding.Mesh; got {type(mesh).__name__}.")
    if axis_name not in mesh.shape:
        raise ValueError(
            f"`axis_name` {axis_name!r} is not an axis of `mesh` (axes: {tuple(mesh.shape)})."
        )
    if exchange not in ("all_gather", "ppermute"):
        raise ValueError(f"`exchange` must be 'all_gather' or 'ppermute'; got {exchange!r}.")
    # Validate shapes and dtypes exactly as the single-device solver does, without computing.
    out = jax.eval_shape(ft.partial(linear_recurrence, reverse=reverse), a, b, h0)
    a, b, h0 = (jnp.asarray(x, out.dtype) for x in (a, b, h0))
    num = mesh.shape[axis_name]
    T = b.shape[0]
    if T % num:
        raise ValueError(
            f"the sequence length T = {T} must be divisible by the size {num} of mesh axis "
            f"{axis_name!r}; pad the sequence or choose another mesh."
        )
    if T == 0:
        return b
    body = ft.partial(
        _local_solve,
        structure=_structure(a, b),
        axis_name=axis_name,
        num=num,
        reverse=reverse,
        exchange=exchange,
    )
    time = PartitionSpec(axis_name)
    solve = jax.shard_map(
        body, mesh=auto_mesh(mesh), in_specs=(time, time, PartitionSpec()), out_specs=time
    )
    return solve(a, b, h0)
