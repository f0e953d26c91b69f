"""Residual blocks x_{l+1} = x_l + h f_l(x_l), stacked over depth, and the sequential network."""

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

if TYPE_CHECKING:
    from .._engine._fallback import Fallback


def stacked(make: Callable[[PRNGKeyArray], Any], key: PRNGKeyArray, stack: tuple[int, ...]) -> Any:
    """`make(k)` for independent keys `k`, stacked: every array leaf of the result gets the
    leading axes `stack` (e.g. `stacked(lambda k: eqx.nn.Linear(4, 8, key=k), key, (32,))`)."""
    if not stack:
        return make(key)
    keys = jax.random.split(key, stack[0])
    return eqx.filter_vmap(lambda k: stacked(make, k, stack[1:]))(keys)


def apply_linear(layer: eqx.nn.Linear, x: Float[Array, "*batch in"]) -> Float[Array, "*batch out"]:
    """`layer` applied along the last axis of `x`, which may have any leading batch axes."""
    flat = x.reshape(-1, x.shape[-1])
    return jax.vmap(layer)(flat).reshape(*x.shape[:-1], -1)


class ResidualBlock(eqx.Module):
    """One layer as one time step: `x + step * (W2 σ(W1 x + b1) + b2)`.

    `step` is the "time step" h of the forward-Euler reading of a residual network; a stack of
    `L` blocks with `step = 1/L` integrates over unit time. Accepts leading batch axes.
    """

    inner: eqx.nn.Linear
    outer: eqx.nn.Linear
    step: float = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        width: int,
        hidden: int,
        *,
        key: PRNGKeyArray,
        step: float = 1.0,
        activation: Callable[[Array], Array] = jnp.tanh,
        stack: tuple[int, ...] = (),
    ):
        k1, k2 = jax.random.split(key)
        self.inner = stacked(lambda k: eqx.nn.Linear(width, hidden, key=k), k1, stack)
        self.outer = stacked(lambda k: eqx.nn.Linear(hidden, width, key=k), k2, stack)
        self.step = float(step)
        self.activation = activation

    def __call__(self, x: Float[Array, "*batch width"]) -> Float[Array, "*batch width"]:
        inner = self.activation(apply_linear(self.inner, x))
        return x + self.step * apply_linear(self.outer, inner)


def make_blocks(
    depth: int,
    width: int,
    hidden: int,
    *,
    key: PRNGKeyArray,
    step: float | None = None,
    activation: Callable[[Array], Array] = jnp.tanh,
) -> ResidualBlock:
    """`depth` independent `ResidualBlock`s, stacked: every array leaf gets a leading `depth` axis.

    **Arguments:**

    - `depth`: the number of blocks L.
    - `width`, `hidden`: feature width and hidden width of each block.
    - `key`: PRNG key.
    - `step`: the time step of each block; default `1/depth` (unit total time).
    - `activation`: the nonlinearity σ.

    **Returns:**

    One `ResidualBlock` whose arrays have a leading axis of length `depth`.

    **Raises:**

    `ValueError` if `depth`, `width` or `hidden` is not positive.
    """
    for name, value in (("depth", depth), ("width", width), ("hidden", hidden)):
        if value < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {value}.")
    if step is not None and not (isinstance(step, int | float) and 0 < step < math.inf):
        raise ValueError(f"`step` must be a finite number > 0 (or None for 1/depth); got {step!r}.")
    step = 1.0 / depth if step is None else step
    return ResidualBlock(width, hidden, key=key, step=step, activation=activation, stack=(depth,))


def stack_blocks(blocks: Any) -> Any:
    """Accept either a stacked block module or a sequence of same-structured blocks; stack it."""
    if isinstance(blocks, Sequence) and not isinstance(blocks, eqx.Module):
        if len(blocks) == 0:
            raise ValueError("`blocks` must contain at least one block.")
        dynamic = [eqx.filter(b, eqx.is_array) for b in blocks]
        statics = {jax.tree_util.tree_structure(eqx.partition(b, eqx.is_array)[1]) for b in blocks}
        if len(statics) != 1:
            raise ValueError("`blocks` must all have the same structure to be stacked.")
        stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *dynamic)
        return eqx.combine(stacked, eqx.partition(blocks[0], eqx.is_array)[1])
    return blocks


def num_layers(blocks: Any) -> int:
    """The length of the common leading axis of a stacked module's arrays."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(blocks, eqx.is_array))
    if not leaves:
        raise ValueError("`blocks` has no array parameters.")
    lengths = {int(leaf.shape[0]) if leaf.ndim else None for leaf in leaves}
    if len(lengths) != 1 or None in lengths:
        raise ValueError(
            "`blocks` must be stacked: every array needs the same leading (depth) axis; "
            f"got leading sizes {sorted(str(n) for n in lengths)}."
        )
    (length,) = lengths
    assert length is not None  # checked above
    return length


def apply_stack(blocks: Any, x: Array) -> Array:
    """Apply stacked blocks one after another with `lax.scan` (the sequential forward pass)."""
    dynamic, static = eqx.partition(blocks, eqx.is_array)

    def body(h, params):
        return eqx.combine(params, static)(h), None

    out, _ = jax.lax.scan(body, x, dynamic)
    return out


class LayerCell(eqx.Module):
    """A layer as a recurrent cell: `cell(h, params_l) = block_l(h)`.

    The per-layer parameters play the role of the inputs `xs` over "time" (= depth), so a deep
    residual stack becomes a recurrence that `paratime.unroll` can solve in parallel over depth.
    """

    static: Any

    def __call__(self, h: Float[Array, " width"], params: Any) -> Float[Array, " width"]:
        return eqx.combine(params, self.static)(h)


class ResidualNetwork(eqx.Module):
    """The sequential residual network: `L` blocks applied one after another.

    With `solver=None` the blocks run in a `lax.scan`. With a paratime solver (e.g.
    `paratime.DEER()`), the stack is evaluated *in parallel over depth* by
    `paratime.unroll(LayerCell, x, per-layer parameters)`; gradients are exact either way.

    **Example:**

    ```python
    blocks = make_blocks(32, 16, 32, key=jax.random.key(0))
    net = ResidualNetwork(blocks)
    y = net(jnp.ones((8, 16)))                                  # (batch, width)
    y_deer = ResidualNetwork(blocks, solver=paratime.DEER())(jnp.ones((8, 16)))
    ```
    """

    blocks: Any
    solver: Any = None
    fallback: "Fallback" = eqx.field(default="sequential", static=True)

    def __init__(self, blocks: Any, solver: Any = None, fallback: "Fallback" = "sequential"):
        """**Arguments:** `blocks`: stacked blocks (see `make_blocks`) or a sequence of blocks;
        `solver`: `None` (sequential scan) or a `paratime.AbstractSolver`; `fallback`: the
        failure policy of the parallel solve (see `paratime.unroll`; by default a failed
        solve is finished exactly by the sequential scan).

        **Raises:** `ValueError` if the blocks are not stacked consistently.
        """
        self.blocks = stack_blocks(blocks)
        num_layers(self.blocks)
        self.solver = solver
        self.fallback = fallback

    @property
    def depth(self) -> int:
        return num_layers(self.blocks)

    def __call__(self, x: Float[Array, "*batch width"]) -> Float[Array, "*batch width"]:
        if self.solver is None:
            return apply_stack(self.blocks, x)
        return _unroll_stack(self.blocks, x, self.solver, self.fallback)


def _unroll_stack(blocks: Any, x: Array, solver: Any, fallback: "Fallback") -> Array:
    import paratime  # the core engine; imported lazily so this module has no import cycle

    dynamic, static = eqx.partition(blocks, eqx.is_array)
    cell = LayerCell(static)

    def one(h0):
        return paratime.unroll(cell, h0, dynamic, solver=solver, fallback=fallback).states[-1]

    flat = x.reshape(-1, x.shape[-1])
    return jax.vmap(one)(flat).reshape(x.shape)
