"""The model the decomposition methods train: a recurrent cell, a readout and a fixed h0."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

import paratime

from .. import nn
from ..cells import GRU


class RNN(eqx.Module):
    """A recurrent network `h_t = cell(h_{t−1}, x_t)`, `ŷ_t = readout(h_t)`, from a fixed h0.

    The recurrent part is a `paratime.nn.RNN` layer (the cell and its initial state, solved
    with `paratime.Sequential()` unless a decomposed method passes another solver); the
    readout maps each state to an output.

    **Arguments:**

    - `cell`: any cell accepted by `paratime.unroll`.
    - `readout`: a callable PyTree mapping one state to one output, e.g. `eqx.nn.Linear`.
    - `h0`: the initial state (a PyTree of arrays). It is not trained (its gradient is
        stopped).
    """

    layer: nn.RNN
    readout: Any

    def __init__(self, cell: Any, readout: Any, h0: PyTree[Array]):
        self.layer = nn.RNN(cell, paratime.Sequential(), initial_state=h0)
        self.readout = readout

    @property
    def cell(self) -> Any:
        """The recurrent cell."""
        return self.layer.cell

    @property
    def h0(self) -> PyTree[Array]:
        """The initial state (as stored; `initial_state()` stops its gradient)."""
        return self.layer.initial_state

    @classmethod
    def gru(cls, input_size: int, hidden_size: int, output_size: int, *, key: PRNGKeyArray):
        """A `paratime.cells.GRU` with a linear readout and h0 = 0."""
        kc, kr = jax.random.split(key)
        cell = GRU(input_size, hidden_size, key=kc)
        readout = eqx.nn.Linear(hidden_size, output_size, key=kr, dtype=cell.weight_hh.dtype)
        return cls(cell, readout, jnp.zeros(hidden_size, cell.weight_hh.dtype))

    def initial_state(self) -> PyTree[Array]:
        return jax.lax.stop_gradient(self.h0)

    def states(self, xs: Any, h0: PyTree[Array], solver: Any) -> PyTree[Array]:
        """The states h_1..h_T of one sequence `xs` from `h0`, solved with `solver`.

        `throw=False`: the error check of `unroll` (a `cond`) cannot run under `shard_map`;
        the decomposed problems use `paratime.Sequential()` by default, which cannot fail.
        """
        return self.layer.solve(xs, h0, solver=solver, throw=False).states


def readout_all(model: RNN, states: PyTree[Array]) -> Array:
    """Apply the readout to a stack of states with any number of leading axes."""
    lead = jax.tree.leaves(states)[0].ndim - jax.tree.leaves(model.h0)[0].ndim
    fn = model.readout
    for _ in range(lead):
        fn = jax.vmap(fn)
    return fn(states)


def check_data(xs: Array, ys: Array) -> None:
    """Raise `ValueError` unless `xs` is (B, T, D) and `ys` is (B, T, Dy)."""
    if xs.ndim != 3 or ys.ndim != 3 or xs.shape[:2] != ys.shape[:2]:
        raise ValueError(
            "`xs` and `ys` must be (batch, time, features) with the same batch and time; "
            f"got {xs.shape} and {ys.shape}."
        )


def sequence_loss(
    model: RNN, xs: Float[Array, "B T D"], ys: Float[Array, "B T Dy"], *, solver: Any = None
) -> Float[Array, ""]:
    """The ordinary full-sequence loss: unroll from h0 over all T steps, mean squared error.

    This is what plain BPTT minimises and what every decomposed method is judged by.

    **Arguments:**

    - `model`: an `RNN`.
    - `xs`, `ys`: inputs and targets, (batch, time, features).
    - `solver`: the `paratime.unroll` solver (`paratime.Sequential()` by default).

    **Returns:**

    The mean over batch, time and output features of (ŷ − y)².
    """
    check_data(xs, ys)
    solver = paratime.Sequential() if solver is None else solver
    h0 = model.initial_state()
    states = jax.vmap(lambda x: model.states(x, h0, solver))(xs)
    return jnp.mean((readout_all(model, states) - ys) ** 2)


class WindowedProblem(eqx.Module):
    """What a decomposed training problem holds: the data, its split into windows, the
    non-trainable part of the model, the optimiser and the optional device mesh."""

    config: Any
    static: Any
    xs: Array
    ys: Array
    xw: Array
    yw: Array
    optimizer: optax.GradientTransformation = eqx.field(static=True)
    mesh: Mesh | None = eqx.field(static=True)

    def __init__(self, model: RNN, xs, ys, config, optimizer, *, mesh: Mesh | None = None):
        check_data(xs, ys)
        self.config = config
        self.static = eqx.partition(model, eqx.is_array)[1]
        self.xs, self.ys = xs, ys
        self.xw = config.windows.split(xs, axis=1)
        self.yw = config.windows.split(ys, axis=1)
        self.optimizer = optimizer
        self.mesh = mesh
