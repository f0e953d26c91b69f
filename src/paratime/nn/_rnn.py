"""`RNN`: a recurrent layer, inputs (T, D) -> outputs (T, N), solved by `paratime.unroll`."""

from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._engine import AbstractSolver, Auto, Solution, unroll


def zero_state(cell: Any) -> PyTree[Array]:
    """The all-zero initial state of `cell`.

    A cell may define `initial_state()` (returning its zero state); otherwise the size is read
    from the shipped cells' parameters: `weight_hh` (N, N) or (k·N, N), and, for a state
    `(h, c)`, the LSTM's layout.

    **Raises:**

    `ValueError` if the state size cannot be found; pass `initial_state` to `RNN` then.
    """
    from ..cells import LRU, LSTM, BlockGRU, DiagonalLSTM, MinGRU

    method = getattr(cell, "initial_state", None)
    if callable(method):
        return method()
    if isinstance(cell, DiagonalLSTM):  # one (n, 2) array: [:, 0] is c, [:, 1] is h
        return jnp.zeros((cell.weight_hh.shape[1], 2), cell.weight_hh.dtype)
    if isinstance(cell, BlockGRU):
        return jnp.zeros(cell.bias_hh.shape[0] // 3, cell.bias_hh.dtype)
    if isinstance(cell, LSTM):
        n = cell.weight_hh.shape[1]
        return (jnp.zeros(n, cell.weight_hh.dtype), jnp.zeros(n, cell.weight_hh.dtype))
    if isinstance(cell, MinGRU):
        return jnp.zeros_like(cell.bias_z)
    if isinstance(cell, LRU):
        return jnp.zeros(cell.eigenvalues.shape, cell.eigenvalues.dtype)
    weight = getattr(cell, "weight_hh", None)
    if isinstance(weight, jax.Array) and weight.ndim == 2:
        return jnp.zeros(weight.shape[1], weight.dtype)
    raise ValueError(
        f"cannot tell the state size of a {type(cell).__name__}; pass `initial_state` "
        "(e.g. `jnp.zeros(hidden_size)`) or give the cell an `initial_state()` method."
    )


def state_output(cell: Any, state: PyTree[Array]) -> Array:
    """What a layer outputs for one state: `cell.output(state)` if the cell defines it, h for
    `DiagonalLSTM` (`state[:, 1]`), the state itself if it is an array, else its first leaf
    (the `h` of an LSTM's `(h, c)`)."""
    from ..cells import DiagonalLSTM

    method: Any = getattr(cell, "output", None)
    if callable(method):
        return cast(Array, method(state))
    if isinstance(cell, DiagonalLSTM):
        return cell.hidden(state)
    if isinstance(state, jax.Array):
        return state
    return jax.tree_util.tree_leaves(state)[0]


class RNN(eqx.Module):
    """A recurrent layer: the states h_t = cell(h_{t−1}, x_t) of a whole sequence, computed in
    parallel over time by `paratime.unroll`, and their outputs.

    It maps one sequence (T, D) to (T, N); `jax.vmap` it over a batch, or call
    `batch_first` with (B, T, D) as with `torch.nn.GRU(batch_first=True)`.

    For a PyTree state the output at each step is `cell.output(state)` if the cell defines
    `output`, otherwise the first leaf of the state: for `paratime.cells.LSTM`, whose state is
    `(h, c)`, the output is `h` (as in PyTorch) and the cell memory `c` stays inside. For
    `paratime.cells.DiagonalLSTM`, whose state is one (n, 2) array `[c, h]`, it is h too.

    **Arguments:**

    - `cell`: a cell `(h, x) -> h_next`, e.g. `paratime.cells.GRU(D, N, key=key)`.
    - `solver`: the `paratime.unroll` solver (`Auto()` by default).
    - `initial_state`: the state h_0 when none is passed to the call; zeros by default
        (see `zero_state`). It is a parameter (trained) unless you stop its gradient.

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
        self.initial_state = zero_state(cell) if initial_state is None else initial_state

    @property
    def output_size(self) -> int:
        """N, the size of one output vector."""
        out = jax.eval_shape(lambda: state_output(self.cell, self.initial_state))
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
        return jax.vmap(lambda s: state_output(self.cell, s))(states)

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
