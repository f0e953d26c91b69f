"""Running per-window work on one device (vmap) or spread over devices (shard_map).

The work is written once, over a stack of windows with a leading window axis. Neighbours are
reached only through `Neighbours.from_next` / `from_prev`: a shift inside the local stack plus,
when sharded, one `lax.ppermute` of a single window between adjacent devices.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec as P
from jaxtyping import Array, PyTree

AXIS = "time"


def time_mesh(num_devices: int | None = None) -> Mesh:
    """A one-dimensional device mesh whose axis `"time"` carries the windows.

    **Arguments:**

    - `num_devices`: how many of `jax.devices()` to use (all of them by default). With
        several hosts (after `jax.distributed.initialize()`), `jax.devices()` lists the
        devices of every host, so the same mesh spans them all.

    **Returns:**

    A `jax.sharding.Mesh` with the single axis `"time"`.

    **Raises:**

    `ValueError` if more devices are asked for than exist.
    """
    devices = jax.devices()
    n = len(devices) if num_devices is None else num_devices
    if not 1 <= n <= len(devices):
        raise ValueError(f"`num_devices` must be between 1 and {len(devices)}; got {n}.")
    return Mesh(np.array(devices[:n]), (AXIS,))


class Neighbours(eqx.Module):
    """Nearest-neighbour exchange over the leading window axis of a local stack of windows.

    With `axis_name=None` the stack holds all K windows; otherwise it holds this device's
    share and the device ring is `axis_size` long. Values from beyond the first or last
    window are zeros: callers mask them with the global window index.
    """

    axis_name: str | None = eqx.field(static=True, default=None)
    axis_size: int = eqx.field(static=True, default=1)

    def _edge(self, x: Array, *, forward: bool) -> Array:
        edge = x[:1] if forward else x[-1:]
        if self.axis_name is None or self.axis_size == 1:
            return jnp.zeros_like(edge)
        n = self.axis_size
        perm = [(i, i - 1) for i in range(1, n)] if forward else [(i, i + 1) for i in range(n - 1)]
        return jax.lax.ppermute(edge, self.axis_name, perm)

    def from_next(self, tree: PyTree[Array]) -> PyTree[Array]:
        """For each window k, the value held by window k + 1 (zeros after the last)."""
        return jax.tree.map(
            lambda x: jnp.concatenate([x[1:], self._edge(x, forward=True)], axis=0), tree
        )

    def from_prev(self, tree: PyTree[Array]) -> PyTree[Array]:
        """For each window k, the value held by window k − 1 (zeros before the first)."""
        return jax.tree.map(
            lambda x: jnp.concatenate([self._edge(x, forward=False), x[:-1]], axis=0), tree
        )


def map_windows(
    fn: Callable[[Neighbours, Any, Any], Any], *, mesh: Mesh | None = None
) -> Callable[[Any, Any], Any]:
    """Wrap `fn(neighbours, shared, windowed) -> windowed_out` to run on one or many devices.

    `shared` is a PyTree of arrays every window sees whole (replicated); `windowed` and the
    result are PyTrees of arrays with a leading window axis K. With `mesh=None` `fn` sees all
    K windows; with a mesh it runs under `jax.shard_map`, each device seeing K / D windows.
    Both give the same numbers, and both are differentiable (the transpose of a replicated
    input sums the per-device cotangents; that of `ppermute` is the reverse `ppermute`).

    **Arguments:**

    - `fn`: the per-stack computation. It must reach other windows only via `neighbours`.
    - `mesh`: `None`, or a mesh from `time_mesh`.

    **Returns:**

    `g(shared, windowed) -> windowed_out`.
    """
    if mesh is None:
        return lambda shared, windowed: fn(Neighbours(), shared, windowed)
    if AXIS not in mesh.axis_names:
        raise ValueError(f"`mesh` must have an axis named {AXIS!r}; got {mesh.axis_names}.")
    size = mesh.shape[AXIS]
    nb = Neighbours(AXIS, size)
    sharded = jax.shard_map(
        lambda shared, windowed: fn(nb, shared, windowed),
        mesh=mesh,
        in_specs=(P(), P(AXIS)),
        out_specs=P(AXIS),
    )

    def run(shared, windowed):
        k = jax.tree.leaves(windowed)[0].shape[0]
        if k % size:
            raise ValueError(f"the number of windows ({k}) must be a multiple of {size} devices.")
        return sharded(shared, windowed)

    return run
