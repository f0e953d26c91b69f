"""`RNN`: a recurrent layer, inputs (T, D) -> outputs (T, N), solved by `paratime.unroll`."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._engine import AbstractCell, AbstractSolver, Auto, Solution, unroll


def _init_state(cell: Any) -> PyTree[Array]:
    if isinstance(cell, AbstractCell):
        return cell.init_state()
    raise ValueError(
        f"cannot tell the state of a {type(cell).__name__}, which is not a "
        "`paratime.cells.AbstractCell`; pass `initial_state` (e.g. `jnp.zeros(hidden_size)`)."
    )


def _output(cell: Any, state: PyTree[Array]) -> Array:
    return cell.output(state) if isinstance(cell, AbstractCell) else state


class RNN(eqx.Module):
    """A recurrent layer: the states h_t = cell(h_{t−1}, x_t) of a whole sequence, computed in
    parallel over time by `paratime.unroll`, and their outputs.

    It maps one sequence (T, D) to (T, N); `jax.vmap` it over a batch, or call
    `batch_first` with (B, T, D) as with `torch.nn.GRU(batch_first=True)`.

    The output at each step is `cell.output(state)`: the state itself for most cells, `h` for
    `paratime.cells.LSTM` (state `(h, c)`, as in PyTorch), `DiagonalLSTM` and `SLSTM`; the cell
    memory stays inside. A callable that is not an `AbstractCell` outputs its state.

    **Arguments:**

    - `cell`: a cell `(h, x) -> h_next`, e.g. `paratime.cells.GRU(D, N, key=key)`.
    - `solver`: the `paratime.unroll` solver (`Auto()` by default).
    - `initial_state`: the state h_0 when none is passed to the call; `cell.init_state()`
        (zeros) by default, required for a cell that is not an `AbstractCell`. It is a
        parameter (trained) unless you stop its gradient.

    **Example:**

    ```python
    import jax, paratime
    rnn = paratime.nn.RNN(paratime.cells.GRU(3, 16, key=jax.random.key(0)))
    xs = jax.random.normal(jax.random.key(1), (1000, 3))
    rnn(xs).shape  # (1000, 16)
    rnn.batch_first(xs[None].repeat(4, 0)).shape  # (4, 1000, 16)
    ```
    """

    cell: Any
    initial_state: PyTree[Array]
    solver: AbstractSolver = eqx.field(static=True)

    def __init__(
        self,
        cell: Any,
        solver: AbstractSolver = Auto(),
        *,
        initial_state: PyTree[Array] | None = None,
    ):
        if not callable(cell):
            raise TypeError(f"`cell` must be callable as cell(h, x); got {type(cell).__name__}.")
        if not isinstance(solver, AbstractSolver):
            raise TypeError(
                f"`solver` must be a paratime solver (e.g. paratime.DEER()); "
                f"got {type(solver).__name__}."
            )
        self.cell = cell
        self.solver = solver
        self.initial_state = _init_state(cell) if initial_state is None else initial_state

    @property
    def output_size(self) -> int:
        """N, the size of one output vector."""
        out = jax.eval_shape(lambda: _output(self.cell, self.initial_state))
        return out.shape[-1]

    def solve(
        self,
        xs: PyTree[Array],
        state: PyTree[Array] | None = None,
        *,
        guess: PyTree[Array] | None = None,
        throw: bool = True,
        solver: AbstractSolver | None = None,
    ) -> Solution:
        """The full `paratime.Solution` of one sequence: states h_1..h_T, result, stats.

        **Arguments:**

        - `xs`: inputs (T, D) (or a PyTree of arrays with leading axis T).
        - `state`: the initial state; `initial_state` when `None`.
        - `guess`: a trajectory shaped like the states (T, ...), the Newton solvers' first
            iterate (a warm start); its gradient is stopped.
        - `throw`: passed to `paratime.unroll`.
        - `solver`: a solver for this call only (default: the layer's `solver`).
        """
        h0 = self.initial_state if state is None else state
        solver = self.solver if solver is None else solver
        return unroll(self.cell, h0, xs, solver=solver, guess=guess, throw=throw)

    def outputs(self, states: PyTree[Array]) -> Float[Array, "T N"]:
        """The outputs (T, N) of a trajectory of states with a leading time axis."""
        return jax.vmap(lambda s: _output(self.cell, s))(states)

    def __call__(
        self,
        xs: PyTree[Array],
        state: PyTree[Array] | None = None,
        *,
        guess: PyTree[Array] | None = None,
    ) -> Float[Array, "T N"]:
        """The outputs (T, N) of one sequence `xs` (T, D), from `state` (or `initial_state`).

        `guess`: an optional warm-start trajectory shaped like the states (see `solve`).
        """
        return self.outputs(self.solve(xs, state, guess=guess).states)

    def batch_first(
        self, xs: Float[Array, "B T D"], state: PyTree[Array] | None = None
    ) -> Float[Array, "B T N"]:
        """The outputs (B, T, N) of a batch (B, T, D), each sequence from the same `state`
        (or `initial_state`), or from `state` with a leading batch axis B on every leaf."""
        if jnp.ndim(xs) != 3:
            raise ValueError(f"`xs` must be (batch, time, features); got shape {jnp.shape(xs)}.")
        if state is None:
            return jax.vmap(lambda x: self(x))(xs)
        batched = (
            jax.tree_util.tree_leaves(state)[0].ndim
            > jax.tree_util.tree_leaves(self.initial_state)[0].ndim
        )
        return jax.vmap(self, in_axes=(0, 0 if batched else None))(xs, state)
