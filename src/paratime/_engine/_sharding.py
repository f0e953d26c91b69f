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

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.sharding import AxisType, Mesh, PartitionSpec
from jaxtyping import Array, Inexact

from ._loop import iterate
from ._recurrences import EXCHANGES, Exchange, Sharded
from ._scan import (
    Method,
    Structure,
    _apply,
    _combine,
    _identity,
    _scan_with_h0,
    _sequential_with_h0,
    _structure,
    default_method,
    linear_recurrence,
)
from ._solution import SolveResult
from ._solver._newton import DEER, QuasiDEER, initial_trajectory, pad_time

# Above this many devices the log2(P)-round ppermute prefix beats a ring all_gather, whose
# latency grows with P − 1 steps (the model in docs/scaling.md).
AUTO_ALL_GATHER_MAX_DEVICES = 8


def _resolve(exchange: Exchange, num: int) -> Exchange:
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
        # (a pair of arrays: ppermute sends any PyTree)
        a_in, b_in = _shift((a_acc, b_acc), axis_name, num, offset, reverse)  # pyright: ignore[reportArgumentType]
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
    method: Method,
) -> Array:
    """The per-device body: local scan, summary exchange, fix-up. Works on local chunks.

    `"associative"`: one parallel scan gives every prefix map (A_t, B_t); the fix-up is
    h_t = A_t h_in + B_t. `"sequential"` (fewer operations, for CPUs): a `lax.scan` folds the
    chunk's summary, and after the exchange a second `lax.scan` runs the chunk from h_in.
    """
    T_local, N = b.shape
    if reverse:
        a, b = a[::-1], b[::-1]
    combine = _combine(structure)
    if method == "sequential":
        # Derived from the local data, so that the carry is typed as varying per device.
        start = (_identity(structure, a) + jnp.zeros_like(a[0]), jnp.zeros_like(b[0]))
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
        exchange=exchange,
    )
    if method == "sequential":
        h = _sequential_with_h0(structure, a, b, h_in)
    else:
        h = jax.vmap(lambda a_t, b_t: _apply(structure, a_t, h_in) + b_t)(a_cum, b_cum)
    h = h.reshape(T_local, N)
    return h[::-1] if reverse else h


@ft.lru_cache(maxsize=64)
def compiled_solve(structure, mesh, axis_name, reverse, exchange, method):
    """A jitted `shard_map` of `_local_solve` (eager `shard_map` runs op by op, slowly)."""
    body = ft.partial(
        _local_solve,
        structure=structure,
        axis_name=axis_name,
        num=mesh.shape[axis_name],
        reverse=reverse,
        exchange=_resolve(exchange, mesh.shape[axis_name]),
        method=method,
    )
    time = PartitionSpec(axis_name)
    return jax.jit(
        jax.shard_map(
            body, mesh=auto_mesh(mesh), in_specs=(time, time, PartitionSpec()), out_specs=time
        )
    )


def sharded_linear_recurrence(
    a: Inexact[Array, "T N"] | Inexact[Array, "T N N"] | Inexact[Array, "T K B B"],
    b: Inexact[Array, "T N"],
    h0: Inexact[Array, " N"],
    *,
    mesh: Mesh,
    axis_name: str = "time",
    reverse: bool = False,
    exchange: Exchange = "auto",
    method: Literal["auto", "associative", "sequential"] = "auto",
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
    - `exchange`: how chunk summaries travel. `"all_gather"`: one collective bringing all P
        summaries to every device, which composes them itself (a ring all-gather costs P − 1
        latency steps). `"ppermute"`: a Hillis–Steele prefix over devices, ceil(log2 P)
        rounds of one summary each, then one shift. `"auto"` (default): `"all_gather"` up to
        8 devices, `"ppermute"` beyond.
    - `method`: how each device solves its own chunk, as in `linear_recurrence`:
        `"associative"` (parallel scan; GPUs/TPUs), `"sequential"` (`lax.scan`; CPUs) or
        `"auto"` (by backend).

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
    if exchange not in EXCHANGES:
        raise ValueError(
            f"`exchange` must be 'auto', 'all_gather' or 'ppermute'; got {exchange!r}."
        )
    if method not in ("auto", "associative", "sequential"):
        raise ValueError(f"`method` must be 'auto', 'associative' or 'sequential'; got {method!r}.")
    # Validate shapes and dtypes exactly as the single-device solver does, without computing.
    shapes = [jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)) for x in (a, b, h0)]
    out = jax.eval_shape(ft.partial(linear_recurrence, reverse=reverse), *shapes)
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
    method = default_method() if method == "auto" else method
    solve = compiled_solve(_structure(a, b), mesh, axis_name, reverse, exchange, method)
    return solve(a, b, h0)


def _local_newton(solver, recurrence: Sharded, cell, h0, xs, s):
    """The Newton loop of `AbstractNewton` on one device's steps, inside `shard_map`.

    Per iteration and device: the cell and its Jacobians on the local chunk, the previous
    state of the chunk's first step from the left neighbour (`ppermute`, N numbers), the
    sharded scan for the Newton step, and two scalar reductions for the stopping test.
    """
    rtol, atol = solver._tolerances(h0.dtype)
    name, num = recurrence.axis_name, recurrence.size
    first = lax.axis_index(name) == 0
    structure = solver.linearisation(cell)

    def evaluate(s):
        incoming = _shift(s[-1], name, num, 1, reverse=False)
        prev = jnp.concatenate([jnp.where(first, h0, incoming)[None], s[:-1]])
        f, jac = jax.vmap(lambda p, x: solver._linearise_step(cell, p, x))(prev, xs)
        err = jnp.abs(s - f)
        residual = lax.pmax(jnp.max(err), name)
        ok = jnp.all(err <= atol + rtol * jnp.abs(f))
        converged = lax.pmin(ok.astype(jnp.int32), name) == 1
        return prev, f, jac, residual, converged

    def linear(a, b):
        return _local_solve(
            a,
            b,
            h0,
            structure=structure,
            axis_name=name,
            num=num,
            reverse=False,
            exchange=_resolve(recurrence.exchange, num),
            method=recurrence.method(),
        )

    prev, f, jac, residual, converged = evaluate(s)

    def step(_, carry, active):
        s, prev, f, jac = carry
        # The linearised step s_t = f_t + J_t (s_{t−1} − prev_t), by the sharded scan.
        s = linear(jac, solver._rhs(structure, jac, f, prev))
        prev, f, jac, residual, converged = evaluate(s)
        return (s, prev, f, jac), residual, converged

    # (The reductions in `evaluate` make the residual and the test the same on every device,
    # so every device stops at the same iteration.)
    (s, _, _, _), result, stats = iterate(
        step,
        ((s, prev, f, jac), residual, converged),
        None,
        max_iters=solver.max_iters,
        divergence=solver.divergence,
        lockstep=False,
    )
    return s, result, stats


def sharded_newton(solver, recurrence: Sharded, cell, h0, xs, guess) -> SolveResult:
    """A Newton solver's (`DEER`, `QuasiDEER`) solve with `recurrence=Sharded(...)`: its
    loop runs inside `shard_map`, each device on T/P steps. Any T works (padded at the end,
    which changes no earlier state; the extra states are dropped)."""
    T = jax.tree_util.tree_leaves(xs)[0].shape[0]
    num = recurrence.size
    length = -(-T // num) * num
    xs = pad_time(xs, length)
    s = pad_time(initial_trajectory(h0, T, guess), length)
    params, static = eqx.partition(cell, eqx.is_array)
    time, rep = PartitionSpec(recurrence.axis_name), PartitionSpec()

    def local(params, h0, xs, s):
        return _local_newton(solver, recurrence, eqx.combine(params, static), h0, xs, s)

    solve = jax.shard_map(
        local,
        mesh=auto_mesh(recurrence.mesh),
        in_specs=(rep, rep, time, time),
        out_specs=(time, rep, rep),
    )
    s, result, stats = solve(params, h0, xs, s)
    return SolveResult(s[:T], result, stats)


def _sharded(solver_class, name, mesh, axis_name, exchange, kwargs):
    if kwargs.get("chunk_size") is not None:
        raise ValueError("`chunk_size` is not supported with sharding; use None.")
    if "recurrence" in kwargs:
        raise ValueError(f"`{name}` sets `recurrence` itself; use `{solver_class.__name__}`.")
    return solver_class(recurrence=Sharded(mesh, axis_name, exchange=exchange), **kwargs)


def ShardedDEER(
    *, mesh: Mesh, axis_name: str = "time", exchange: Exchange = "auto", **kwargs
) -> DEER:
    """`paratime.DEER(recurrence=paratime.recurrences.Sharded(mesh, axis_name))`: DEER with
    the time axis split over the devices of a mesh (a thin alias).

    Each device holds T/P steps. Per Newton iteration it evaluates the cell and its Jacobians
    on its own steps, receives one boundary state from its left neighbour, and solves the
    linearised recurrence as `sharded_linear_recurrence` does (local scan, exchange of P chunk
    summaries of N² + N numbers, local fix-up). Results equal `DEER`'s on one device; any T
    works. Gradients use `DEER`'s exact adjoint, its reverse recurrence sharded too.

    **Arguments:** those of `DEER` (except `chunk_size`), plus, keyword-only, `mesh`,
    `axis_name` and `exchange` as for `paratime.recurrences.Sharded`.

    **Example:**

    ```python
    mesh = jax.make_mesh((jax.device_count(),), ("time",))
    sol = paratime.unroll(cell, h0, xs, solver=paratime.ShardedDEER(mesh=mesh))
    ```
    """
    return _sharded(DEER, "ShardedDEER", mesh, axis_name, exchange, kwargs)


def ShardedQuasiDEER(
    *, mesh: Mesh, axis_name: str = "time", exchange: Exchange = "auto", **kwargs
) -> QuasiDEER:
    """`paratime.QuasiDEER(recurrence=paratime.recurrences.Sharded(mesh, axis_name))` (a
    thin alias): as `ShardedDEER`, with diagonal Jacobians, so chunk summaries are 2N
    numbers. Results equal `QuasiDEER`'s on one device.

    **Example:**

    ```python
    mesh = jax.make_mesh((jax.device_count(),), ("time",))
    sol = paratime.unroll(cell, h0, xs, solver=paratime.ShardedQuasiDEER(mesh=mesh))
    ```
    """
    return _sharded(QuasiDEER, "ShardedQuasiDEER", mesh, axis_name, exchange, kwargs)
