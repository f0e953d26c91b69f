"""The parareal neural network: a residual stack torn into P fine sub-networks run concurrently,
joined by a small coarse network and the parareal correction."""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec
from jaxtyping import Array, Float, PRNGKeyArray

from ._blocks import ResidualBlock, ResidualNetwork, apply_stack, num_layers, stack_blocks

_INTERFACES = ("coarse", "input")
_PARALLEL = ("vmap", "shard")


def make_coarse(
    num_parallel: int,
    width: int,
    hidden: int,
    *,
    key: PRNGKeyArray,
    depth: int = 1,
    step: float | None = None,
) -> ResidualNetwork:
    """One small residual network per sub-interval, stacked over the `num_parallel` axis.

    Coarse network j approximates fine sub-network j (which covers `L/P` layers, i.e. a time
    interval of length `1/P` when the fine blocks use `step = 1/L`) with `depth` blocks of
    time step `1/(P * depth)`: fewer, larger steps, and a smaller hidden width.

    **Arguments:**

    - `num_parallel`: P, the number of sub-networks.
    - `width`: feature width (as the fine blocks).
    - `hidden`: hidden width of each coarse block (small: this network runs sequentially).
    - `key`: PRNG key.
    - `depth`: blocks per coarse network.
    - `step`: time step of the coarse blocks; default `1/(num_parallel * depth)`.

    **Returns:**

    A `ResidualNetwork` whose arrays have leading axes `(num_parallel, depth)`.
    """
    if num_parallel < 1:
        raise ValueError(f"`num_parallel` must be a positive integer; got {num_parallel}.")
    if depth < 1:
        raise ValueError(f"`depth` must be a positive integer; got {depth}.")
    step = 1.0 / (num_parallel * depth) if step is None else step
    block = ResidualBlock(width, hidden, key=key, step=step, stack=(num_parallel, depth))
    return ResidualNetwork(block)


def _split(tree: Any, parts: int) -> Any:
    """Reshape every leading axis L of `tree`'s arrays into (parts, L // parts)."""
    return jax.tree_util.tree_map(
        lambda a: a.reshape(parts, a.shape[0] // parts, *a.shape[1:]) if eqx.is_array(a) else a,
        tree,
    )


class ParaRealNet(eqx.Module):
    """A deep residual network made parallel over depth by emulating one parareal iteration.

    The `L` blocks are split into `P` fine sub-networks `F_1..F_P` of `L/P` consecutive blocks.
    A small coarse network `C_j` per sub-interval approximates `F_j`. With `x` the input:

    1. interface inputs `s_0 = x`, `s_j = C_j(s_{j-1})` (coarse sweep; `interface="coarse"`),
       or `s_j = x` for all j (`interface="input"`: no sequential work before the fine stage);
    2. the fine sub-networks run concurrently: `f_j = F_j(s_{j-1})`, vmapped over stacked
       parameters (`parallel="vmap"`) or one per device (`parallel="shard"`, `shard_map` over a
       mesh of the first P devices);
    3. the parareal correction, sequential but cheap: `u_0 = x`,
       `u_j = C_j(u_{j-1}) + f_j - C_j(s_{j-1})`; the output is `u_P`.

    With `P = 1` this is exactly the original network, and when `C_j = F_j` the correction is
    exact (`u_j` equals the original network's state after `j L/P` layers).

    **Example:**

    ```python
    blocks = make_blocks(32, 16, 32, key=k1)
    coarse = make_coarse(4, 16, 8, key=k2)
    net = ParaRealNet(blocks, num_parallel=4, coarse=coarse)
    y = net(x)                    # x: (batch, 16)
    ```
    """

    fine: Any
    coarse: Any
    num_parallel: int = eqx.field(static=True)
    interface: str = eqx.field(static=True)
    parallel: str = eqx.field(static=True)

    def __init__(
        self,
        blocks: Any,
        num_parallel: int,
        coarse: Any = None,
        *,
        interface: Literal["coarse", "input"] = "coarse",
        parallel: Literal["vmap", "shard"] = "vmap",
    ):
        """**Arguments:**

        - `blocks`: the fine blocks, stacked over depth (see `make_blocks`) or a sequence.
        - `num_parallel`: P; must divide the number of blocks L.
        - `coarse`: a module whose arrays have a leading axis P (see `make_coarse`), or a
            sequence of P same-structured callables; `coarse_j(x)` maps the state at interface
            j-1 to a prediction at interface j. May be `None` only when P = 1.
        - `interface`: how the fine sub-networks get their inputs (see above).
        - `parallel`: `"vmap"` (one device) or `"shard"` (P devices).

        **Raises:**

        `ValueError` for a bad `num_parallel`, `coarse`, `interface` or `parallel`.
        """
        blocks = stack_blocks(blocks)
        depth = num_layers(blocks)
        if not isinstance(num_parallel, int) or num_parallel < 1 or depth % num_parallel:
            raise ValueError(
                f"`num_parallel` must be a positive divisor of the depth {depth}; "
                f"got {num_parallel!r}."
            )
        if interface not in _INTERFACES:
            raise ValueError(f"`interface` must be one of {_INTERFACES}; got {interface!r}.")
        if parallel not in _PARALLEL:
            raise ValueError(f"`parallel` must be one of {_PARALLEL}; got {parallel!r}.")
        if coarse is None:
            if num_parallel != 1:
                raise ValueError("`coarse` is required when `num_parallel` > 1.")
        else:
            coarse = stack_blocks(coarse)
            if num_layers(coarse) != num_parallel:
                raise ValueError(
                    f"`coarse` must have a leading axis of length num_parallel={num_parallel} "
                    f"on every array; got {num_layers(coarse)}."
                )
        self.fine = _split(blocks, num_parallel)
        self.coarse = coarse
        self.num_parallel = num_parallel
        self.interface = interface
        self.parallel = parallel

    def sequential(self) -> ResidualNetwork:
        """The original network: the same fine blocks run one after another."""
        dynamic, static = eqx.partition(self.fine, eqx.is_array)
        merged = jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), dynamic)
        return ResidualNetwork(eqx.combine(merged, static))

    def _run_fine(self, starts: Array) -> Array:
        dynamic, static = eqx.partition(self.fine, eqx.is_array)

        def run(dyn, s):
            return jax.vmap(lambda d, x: apply_stack(eqx.combine(d, static), x))(dyn, s)

        if self.parallel == "vmap":
            return run(dynamic, starts)
        devices = jax.devices()
        if len(devices) < self.num_parallel:
            raise ValueError(
                f"`parallel='shard'` needs {self.num_parallel} devices; found {len(devices)}. "
                "On CPU set `jax.config.update('jax_num_cpu_devices', P)` before using JAX."
            )
        mesh = Mesh(np.asarray(devices[: self.num_parallel]), ("p",))
        spec = PartitionSpec("p")
        return jax.shard_map(run, mesh=mesh, in_specs=(spec, spec), out_specs=spec)(dynamic, starts)

    def interface_states(self, x: Float[Array, "*batch width"]) -> Float[Array, "P *batch width"]:
        """The corrected states `u_1..u_P` at the P interfaces (the last one is the output)."""
        if self.coarse is None:  # P == 1: C + F - C = F, skip the coarse network entirely
            return self._run_fine(x[None])
        c_dyn, c_static = eqx.partition(self.coarse, eqx.is_array)

        def coarse(params, h):
            return eqx.combine(params, c_static)(h)

        if self.interface == "coarse":

            def sweep(h, params):
                y = coarse(params, h)
                return y, (h, y)

            _, (starts, predicted) = jax.lax.scan(sweep, x, c_dyn)
        else:
            starts = jnp.broadcast_to(x, (self.num_parallel, *x.shape))
            predicted = jax.vmap(coarse)(c_dyn, starts)
        fine = self._run_fine(starts)

        def correct(u, inputs):
            params, f, g = inputs
            u = coarse(params, u) + f - g
            return u, u

        _, states = jax.lax.scan(correct, x, (c_dyn, fine, predicted))
        return states

    def __call__(self, x: Float[Array, "*batch width"]) -> Float[Array, "*batch width"]:
        return self.interface_states(x)[-1]
