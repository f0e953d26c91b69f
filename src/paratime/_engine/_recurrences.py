"""Recurrence strategies: how one linear recurrence h_t = A_t h_{t∓1} + b_t is solved.

A strategy is a field of `linear_recurrence` and of the Newton solvers (`recurrence=`), so the
same solver runs with an associative scan, a sequential scan, in chunks of bounded memory or
sharded over a device mesh. None (the default everywhere) is the backend's measured choice:
`Scan()` on a CPU, `Associative()` elsewhere.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
from jax.sharding import Mesh
from jaxtyping import Array

from ._platform import platform
from ._sharding import EXCHANGES, Exchange, compiled_solve, entering, local_solve, shard_over_time
from ._structures import AbstractStructure


class AbstractRecurrence(eqx.Module):
    """A way to solve h_t = A_t h_{t−1} + b_t (or, `reverse`, h_t = A_t h_{t+1} + b_t) for
    A_t in a given `paratime.structures` layout."""

    @abc.abstractmethod
    def solve(
        self, structure: AbstractStructure, a: Array, b: Array, h0: Array, reverse: bool
    ) -> Array:
        """The states h_1..h_T, shape (T, N), from `a` (T, *structure.shape(N)), `b` (T, N)
        and the initial (terminal if `reverse`) state `h0` (N,). No input checks, no custom
        derivative: `linear_recurrence` adds both."""


class Associative(AbstractRecurrence):
    """A parallel associative scan: O(log T) depth (the default on GPUs and TPUs).

    **Example:**

    ```python
    paratime.DEER(recurrence=paratime.recurrences.Associative())
    ```
    """

    def solve(self, structure, a, b, h0, reverse):
        first = -1 if reverse else 0
        b = b.at[first].add(structure.apply(a[first], h0))
        _, h = lax.associative_scan(structure.combine, (a, b), reverse=reverse)
        return h


class Scan(AbstractRecurrence):
    """A sequential `lax.scan`: O(T) depth, the fewest operations (the default on a CPU,
    where it is measured to be faster at every size).

    A reverse recurrence runs the scan from the end rather than flipping `a` and `b` (under
    `vmap` time is not the leading axis, and a flip there is a slow strided copy).

    **Example:**

    ```python
    paratime.linear_recurrence(a, b, h0, recurrence=paratime.recurrences.Scan())
    ```
    """

    def solve(self, structure, a, b, h0, reverse):
        def step(h, ab):
            h = structure.apply(ab[0], h) + ab[1]
            return h, h

        return lax.scan(step, h0, (a, b), reverse=reverse)[1]


def default_recurrence() -> AbstractRecurrence:
    """The backend's measured choice (see docs/benchmarks.md): `Scan()` on a CPU, where
    the associative scan's twice as many operations (N times more for dense transitions) are
    not repaid by a few cores, and `Associative()` on GPUs and TPUs."""
    return Scan() if platform() == "cpu" else Associative()


def resolve(recurrence: "AbstractRecurrence | None") -> AbstractRecurrence:
    """`recurrence`, or the backend's default for None."""
    return default_recurrence() if recurrence is None else recurrence


def check_recurrence(
    recurrence, name: str = "recurrence", *, allowed: tuple[str, ...] = (), why: str = ""
) -> None:
    """A `paratime.recurrences` object or None; with `allowed` (class names), only those
    (`why` says why the others do not apply)."""
    if recurrence is not None and not isinstance(recurrence, AbstractRecurrence):
        raise TypeError(
            f"`{name}` must be a paratime.recurrences object (Associative(), Scan(), "
            f"Chunked(size), Sharded(mesh)) or None; got {type(recurrence).__name__}."
        )
    if allowed and recurrence is not None and type(recurrence).__name__ not in allowed:
        names = ", ".join(f"{n}()" for n in allowed)
        raise ValueError(
            f"`{name}` must be {names} or None here; got {type(recurrence).__name__}. {why}"
        )


class Chunked(AbstractRecurrence):
    """Time split into chunks of `size` steps run one after another, each by `inner`: peak
    memory scales with `size` instead of T.

    As a Newton solver's field (`paratime.DEER(recurrence=Chunked(512))`) the whole Newton
    solve runs chunk by chunk (Newton inside each chunk, the chunks in sequence), so that the
    Jacobians, too, are held for one chunk only (O(size·N²) for dense DEER).

    **Arguments:**

    - `size`: steps per chunk (a positive int). The last chunk may be shorter.
    - `inner`: the strategy inside each chunk (None: the backend's default).

    **Example:**

    ```python
    paratime.DEER(recurrence=paratime.recurrences.Chunked(1024))
    ```
    """

    size: int = eqx.field(static=True)
    inner: AbstractRecurrence | None = None

    def __check_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"`size` must be a positive int; got {self.size!r}.")
        check_recurrence(self.inner, "inner")
        if isinstance(self.inner, (Chunked, Sharded)):
            raise ValueError("`inner` must be Associative(), Scan() or None.")

    def solve(self, structure, a, b, h0, reverse):
        # Chunks are padded at the end with identity steps, which leave the state unchanged in
        # either direction.
        inner = resolve(self.inner)
        T, L = b.shape[0], self.size
        if L >= T:
            return inner.solve(structure, a, b, h0, reverse)
        num_chunks = -(-T // L)
        pad = num_chunks * L - T
        if pad:
            eye = structure.identity(structure.size(a), a.dtype)
            a = jnp.concatenate([a, jnp.broadcast_to(eye, (pad,) + a.shape[1:])])
            b = jnp.concatenate([b, jnp.zeros((pad,) + b.shape[1:], b.dtype)])
        a = a.reshape((num_chunks, L) + a.shape[1:])
        b = b.reshape((num_chunks, L) + b.shape[1:])

        def body(carry, ab):
            hc = inner.solve(structure, ab[0], ab[1], carry, reverse)
            return hc[0 if reverse else -1], hc

        _, h = lax.scan(body, h0, (a, b), reverse=reverse)
        return h.reshape((num_chunks * L,) + h.shape[2:])[:T]


class Sharded(AbstractRecurrence):
    """The time axis split over the devices of a mesh (`jax.shard_map`): each device scans its
    own chunk, the devices exchange one (A, b) summary per chunk, and each fixes up its chunk.

    As a Newton solver's field (`paratime.DEER(recurrence=Sharded(mesh))`) the whole Newton
    loop runs inside `shard_map`: per iteration each device evaluates the cell on its own
    steps and receives one boundary state from its left neighbour. Any T works (padded
    internally to a multiple of the axis size).

    **Arguments:**

    - `mesh`: a `jax.sharding.Mesh`, e.g. `jax.make_mesh((jax.device_count(),), ("time",))`.
    - `axis_name`: the mesh axis that time is split over (default `"time"`).
    - `exchange`: how chunk summaries travel: `"all_gather"` (one collective; P − 1 latency
        steps on a ring), `"ppermute"` (a Hillis–Steele prefix over devices, ceil(log2 P)
        rounds) or `"auto"` (all_gather up to 8 devices).
    - `inner`: how each device solves its own chunk: `Associative()`, `Scan()` or None
        (the backend's default).

    **Example:**

    ```python
    mesh = jax.make_mesh((jax.device_count(),), ("time",))
    solver = paratime.DEER(recurrence=paratime.recurrences.Sharded(mesh, "time"))
    ```
    """

    mesh: Mesh = eqx.field(static=True)
    axis_name: str = eqx.field(default="time", static=True)
    exchange: Exchange = eqx.field(default="auto", static=True, kw_only=True)
    inner: AbstractRecurrence | None = eqx.field(default=None, kw_only=True)

    def __check_init__(self):
        if not isinstance(self.mesh, Mesh):
            raise ValueError(f"`mesh` must be a jax.sharding.Mesh; got {self.mesh!r}.")
        if self.axis_name not in self.mesh.shape:
            raise ValueError(
                f"`axis_name` {self.axis_name!r} is not an axis of `mesh` "
                f"(axes: {tuple(self.mesh.shape)})."
            )
        if self.exchange not in EXCHANGES:
            raise ValueError(
                f"`exchange` must be 'auto', 'all_gather' or 'ppermute'; got {self.exchange!r}."
            )
        check_recurrence(self.inner, "inner")
        if not isinstance(self.inner, (Associative, Scan, type(None))):
            raise ValueError("`inner` must be Associative(), Scan() or None.")

    @property
    def size(self) -> int:
        """The number of devices along `axis_name`."""
        return self.mesh.shape[self.axis_name]

    def local(self) -> "TimeShard":
        """This strategy as seen from inside `shard_map` over `axis_name` (see `map`)."""
        return TimeShard(
            self.axis_name,
            self.size,
            self.exchange,
            isinstance(resolve(self.inner), Scan),
        )

    def map(self, fn: Callable, replicated: tuple, timed: tuple, out_timed: tuple) -> Any:
        """`fn(*replicated, *timed)` on every device of the mesh axis at once, each with its
        own chunk of the time axis of `timed` (T a multiple of `size`); outputs marked in
        `out_timed` are gathered along time, the others are the same on every device. Inside
        `fn`, `local()` solves recurrences and exchanges neighbour states."""
        return shard_over_time(fn, self.mesh, self.axis_name, replicated, timed, out_timed)

    def solve(self, structure, a, b, h0, reverse):
        # Padded at the end with identity steps (a = I, b = 0), which leave a reverse
        # recurrence's terminal state and every forward state unchanged.
        T = b.shape[0]
        pad = -T % self.size
        if pad:
            eye = structure.identity(structure.size(a), a.dtype)
            a = jnp.concatenate([a, jnp.broadcast_to(eye, (pad,) + eye.shape).astype(a.dtype)])
            b = jnp.concatenate([b, jnp.zeros((pad,) + b.shape[1:], b.dtype)])
        local = self.local()
        solve = compiled_solve(
            structure, self.mesh, self.axis_name, reverse, self.exchange, local.sequential
        )
        return solve(a, b, h0)[:T]


class TimeShard(AbstractRecurrence):
    """`Sharded` from inside `shard_map`: this device's chunk of time. Solves a recurrence
    whose `a` and `b` are the local chunk (the summaries travel between the devices), and
    gives a Newton loop its neighbour exchange and its reductions over the devices."""

    axis_name: str = eqx.field(static=True)
    num: int = eqx.field(static=True)
    exchange: Exchange = eqx.field(static=True)
    sequential: bool = eqx.field(static=True)

    def solve(self, structure, a, b, h0, reverse):
        return local_solve(
            structure,
            a,
            b,
            h0,
            reverse,
            axis_name=self.axis_name,
            num=self.num,
            exchange=self.exchange,
            sequential=self.sequential,
        )

    def entering(self, h0: Array, s: Array) -> Array:
        """The state before this chunk's first step: `h0` on the first device, else the left
        neighbour's last state of `s`."""
        return entering(h0, s, self.axis_name, self.num)

    def max(self, x: Array) -> Array:
        """The maximum of `x` over the devices."""
        return lax.pmax(x, self.axis_name)

    def all(self, x: Array) -> Array:
        """Whether `x` holds on every device."""
        return lax.pmin(x.astype(jnp.int32), self.axis_name) == 1
