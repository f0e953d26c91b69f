"""How many sequences a `jax.vmap` around `unroll` is batching."""

import math
from typing import Any

import jax
from jax.custom_batching import custom_vmap


def vmap_batch_size(tree: Any) -> int:
    """The product of the sizes of the `jax.vmap` axes over which any array of `tree` is batched.

    1 outside `vmap`. It works through a `custom_vmap` probe whose batching rule JAX calls once
    per batched level while tracing, with that level's size; the probe's result is discarded,
    so nothing of it is left in the computation. A `vmap` applied outside a `jit` (as in
    `vmap(jit(f))`) batches the already traced function and is not seen: the size is then 1.
    """
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if isinstance(x, jax.Array)]
    if not leaves:
        return 1
    sizes: list[int] = []

    @custom_vmap
    def probe(*leaves):
        return leaves

    @probe.def_vmap
    def record(axis_size, in_batched, *leaves):
        sizes.append(axis_size)
        return probe(*leaves), tuple(in_batched)  # on to the enclosing vmap, if any

    probe(*(jax.lax.stop_gradient(x) for x in leaves))
    return math.prod(sizes)
