"""Residual blocks x_{l+1} = x_l + h f_l(x_l), stacked over depth, and the sequential network."""

import math
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray


def _rng(key: PRNGKeyArray) -> np.random.Generator:
    """A NumPy generator seeded from a (concrete) JAX key.

    Initialising with NumPy compiles nothing, which keeps model construction instant; the
    price is that constructors cannot be traced (no `jit`/`vmap` over them).
    """
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


class Dense(eqx.Module):
    """An affine map `x @ weight.T + bias` that accepts any number of leading batch axes."""

    weight: Float[Array, "*stack out in"]
    bias: Float[Array, "*stack out"]

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        key: PRNGKeyArray,
        scale: float = 1.0,
        stack: tuple[int, ...] = (),
    ):
        """LeCun-uniform weights times `scale`, zero bias; `stack` prepends axes (independent
        draws), for stacked layers."""
        lim = scale / in_size**0.5
        weight = _rng(key).uniform(-lim, lim, (*stack, out_size, in_size))
        self.weight = jnp.asarray(weight, dtype=jnp.result_type(float))
        self.bias = jnp.zeros((*stack, out_size))

    def __call__(self, x: Float[Array, "*batch in"]) -> Float[Array, "*batch out"]:
        return x @ self.weight.T + self.bias


class ResidualBlock(eqx.Module):
    """One layer as one time step: `x + step * (W2 σ(W1 x + b1) + b2)`.

    `step` is the "time step" h of the forward-Euler reading of a residual network; a stack of
    `L` blocks with `step = 1/L` integrates over unit time. Accepts leading batch axes.
    """

    inner: Dense
    outer: Dense
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
        self.inner = Dense(width, hidden, key=k1, stack=stack)
        self.outer = Dense(hidden, width, key=k2, stack=stack)
        self.step = float(step)
        self.activation = activation

    def __call__(self, x: Float[Array, "*batch width"]) -> Float[Array, "*batch width"]:
        return x + self.step * self.outer(self.activation(self.inner(x)))


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

    def __init__(self, blocks: Any, solver: Any = None):
        """**Arguments:** `blocks`: stacked blocks (see `make_blocks`) or a sequence of blocks;
        `solver`: `None` (sequential scan) or a `paratime.AbstractSolver`.

        **Raises:** `ValueError` if the blocks are not stacked consistently.
        """
        self.blocks = stack_blocks(blocks)
        num_layers(self.blocks)
        self.solver = solver

    @property
    def depth(self) -> int:
        return num_layers(self.blocks)

    def __call__(self, x: Float[Array, "*batch width"]) -> Float[Array, "*batch width"]:
        if self.solver is None:
            return apply_stack(self.blocks, x)
        return _unroll_stack(self.blocks, x, self.solver)


def _unroll_stack(blocks: Any, x: Array, solver: Any) -> Array:
    import paratime  # the core engine; imported lazily so this module has no import cycle

    dynamic, static = eqx.partition(blocks, eqx.is_array)
    cell = LayerCell(static)

    def one(h0):
        return paratime.unroll(cell, h0, dynamic, solver=solver).states[-1]

    flat = x.reshape(-1, x.shape[-1])
    return jax.vmap(one)(flat).reshape(x.shape)
