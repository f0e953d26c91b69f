"""`RNN`: a recurrent layer, inputs (T, D) -> outputs (T, N), solved by `paratime.unroll`."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PyTree

from .._engine import AbstractCell, AbstractSolver, Auto, Solution, unroll
from .._engine._fallback import Fallback, check_fallback


def _init_state(cell: Any) -> PyTree[Array]:
    if isinstance(cell, AbstractCell):
        return cell.init_state()
    raise ValueError(
        f"cannot tell the state of a {type(cell).__name__}, which is not a "
        "`paratime.cells.AbstractCell`; pass `initial_state` (e.g. `jnp.zeros(hidden_size)`)."
    )


def _output(cell: Any, state: PyTree[Array]) -> Array:
    return cell.output(state) if isinstance(cell, AbstractCell) else state


def check_length(length: Any, T: int, name: str = "length") -> None:
    """`length` must be None or an integer scalar (a Python int in 0..T, or an integer array,
    traced under `jax.vmap`)."""
    if length is None:
        return
    if isinstance(length, bool) or not (
        isinstance(length, int) or jnp.issubdtype(jnp.result_type(length), jnp.integer)
    ):
        raise TypeError(f"`{name}` must be an integer; got {length!r}.")
    if jnp.ndim(length) != 0:
        raise ValueError(f"`{name}` must be a scalar per sequence; got shape {jnp.shape(length)}.")
    if isinstance(length, int) and not 0 <= length <= T:
        raise ValueError(f"`{name}` must be in 0..T = 0..{T}; got {length}.")


def padding_resets(
    T: int, length: Int[ArrayLike, ""] | None, resets: Bool[Array, " T"] | None
) -> Bool[Array, " T"] | None:
    """The resets of a padded sequence: the given `resets`, and every step from `length` on
    (the padding then restarts from the initial state at every step, so it takes no Newton
    iterations and no state flows through it)."""
    if length is None:
        return resets
    padding = jnp.arange(T) >= length
    return padding if resets is None else padding | resets


def mask_padding(values: PyTree[Array], length: Int[ArrayLike, ""] | None) -> PyTree[Array]:
    """`values` (leading axis T) with the steps from `length` on set to zero (and so without
    gradient)."""
    if length is None:
        return values

    def mask(v):
        keep = (jnp.arange(v.shape[0]) < length).reshape((-1,) + (1,) * (v.ndim - 1))
        return jnp.where(keep, v, jnp.zeros_like(v))

    return jax.tree_util.tree_map(mask, values)


def state_at(
    states: PyTree[Array], length: Int[ArrayLike, ""] | None, h0: PyTree[Array]
) -> PyTree[Array]:
    """The state after `length` steps: h_length from a trajectory h_1..h_T, `h0` when
    `length` is 0, h_T when `length` is None."""
    if length is None:
        return jax.tree_util.tree_map(lambda s: s[-1], states)
    index = jnp.maximum(length - 1, 0)
    reached = jnp.asarray(length) > 0
    return jax.tree_util.tree_map(lambda s, h: jnp.where(reached, s[index], h), states, h0)


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
    - `precision`: the dtype the solver works in (`paratime.unroll`'s `precision`). None: the
        mixed-precision policy: a bfloat16 or float16 cell runs in its dtype while the
        solver's states, recurrences and residual are float32.
    - `fallback`: the failure policy of the solves (see `paratime.unroll`): `"sequential"`
        (default) finishes a failed parallel solve exactly with the sequential scan, for
        the failed sequences of a batch only, so that training never stops because a solve
        failed; `"elk"` tries damped Newton first; `None` keeps the failure (then `throw`
        decides); `"auto"`: `"sequential"` under `Auto()`, `None` otherwise. When nothing
        fails it costs one reduction. Under `paratime.train` every step logs how many
        solves fell back.

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
    precision: Any = eqx.field(static=True)
    fallback: Fallback = eqx.field(static=True, default="sequential")

    def __init__(
        self,
        cell: Any,
        solver: AbstractSolver = Auto(),
        *,
        initial_state: PyTree[Array] | None = None,
        precision: Any = None,
        fallback: Fallback = "sequential",
    ):
        if not callable(cell):
            raise TypeError(f"`cell` must be callable as cell(h, x); got {type(cell).__name__}.")
        if not isinstance(solver, AbstractSolver):
            raise TypeError(
                f"`solver` must be a paratime solver (e.g. paratime.DEER()); "
                f"got {type(solver).__name__}."
            )
        check_fallback(fallback)
        self.cell = cell
        self.solver = solver
        self.initial_state = _init_state(cell) if initial_state is None else initial_state
        self.precision = None if precision is None else jnp.dtype(precision)
        self.fallback = fallback

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
        length: Int[ArrayLike, ""] | None = None,
        resets: Bool[Array, " T"] | None = None,
    ) -> Solution:
        """The full `paratime.Solution` of one sequence: states h_1..h_T, result, stats.

        **Arguments:**

        - `xs`: inputs (T, D) (or a PyTree of arrays with leading axis T).
        - `state`: the initial state; `initial_state` when `None`.
        - `guess`: a trajectory shaped like the states (T, ...), the Newton solvers' first
            iterate (a warm start); its gradient is stopped.
        - `throw`: passed to `paratime.unroll`.
        - `solver`: a solver for this call only (default: the layer's `solver`).
        - `length`: the number of real steps of a padded sequence (an integer scalar, one per
            sequence under `jax.vmap`). The steps from `length` on restart from the initial
            state at every step (they cost no Newton iterations; their states are not
            meaningful: `apply` returns the state at `length`).
        - `resets`: a boolean (T,) mask of packed sequences: the state restarts from the
            initial state before each step where it is true (see `paratime.unroll`).
        """
        h0 = self.initial_state if state is None else state
        solver = self.solver if solver is None else solver
        T = jax.tree_util.tree_leaves(xs)[0].shape[0]
        check_length(length, T)
        resets = padding_resets(T, length, resets)
        xs = mask_padding(xs, length)  # whatever the padding holds (NaN too) stays out
        return unroll(
            self.cell,
            h0,
            xs,
            solver=solver,
            guess=guess,
            throw=throw,
            resets=resets,
            precision=self.precision,
            fallback=self.fallback,
        )

    def outputs(self, states: PyTree[Array]) -> Float[Array, "T N"]:
        """The outputs (T, N) of a trajectory of states with a leading time axis."""
        return jax.vmap(lambda s: _output(self.cell, s))(states)

    def __call__(
        self,
        xs: PyTree[Array],
        state: PyTree[Array] | None = None,
        *,
        guess: PyTree[Array] | None = None,
        length: Int[ArrayLike, ""] | None = None,
        resets: Bool[Array, " T"] | None = None,
    ) -> Float[Array, "T N"]:
        """The outputs (T, N) of one sequence `xs` (T, D), from `state` (or `initial_state`).

        `guess`: an optional warm-start trajectory shaped like the states (see `solve`).
        `length`: the real length of a padded sequence: the outputs from `length` on are zero
        and carry no gradient. `resets`: packed sequences (see `solve`).
        """
        return self.apply(xs, state, guess=guess, length=length, resets=resets)[0]

    def apply(
        self,
        xs: PyTree[Array],
        state: PyTree[Array] | None = None,
        *,
        guess: PyTree[Array] | None = None,
        length: Int[ArrayLike, ""] | None = None,
        resets: Bool[Array, " T"] | None = None,
    ) -> tuple[Float[Array, "T N"], PyTree[Array]]:
        """The outputs (T, N) of one sequence and its final state: the state after `length`
        steps (after all T without `length`; the initial state if `length` is 0).

        **Example:**

        ```python
        import jax, jax.numpy as jnp, paratime
        rnn = paratime.nn.RNN(paratime.cells.GRU(3, 8, key=jax.random.key(0)))
        xs = jax.random.normal(jax.random.key(1), (4, 50, 3))  # 4 sequences padded to 50
        lengths = jnp.array([50, 20, 7, 33])
        outputs, final = jax.vmap(lambda x, n: rnn.apply(x, length=n))(xs, lengths)
        outputs.shape, final.shape  # (4, 50, 8), (4, 8); outputs[1, 20:] == 0
        ```
        """
        h0 = self.initial_state if state is None else state
        states = self.solve(xs, state, guess=guess, length=length, resets=resets).states
        return mask_padding(self.outputs(states), length), state_at(states, length, h0)

    def batch_first(
        self,
        xs: Float[Array, "B T D"],
        state: PyTree[Array] | None = None,
        *,
        lengths: Int[ArrayLike, " B"] | None = None,
    ) -> Float[Array, "B T N"]:
        """The outputs (B, T, N) of a batch (B, T, D), each sequence from the same `state`
        (or `initial_state`), or from `state` with a leading batch axis B on every leaf.
        `lengths` (B,): the real length of each padded sequence; the outputs after it are
        zero and carry no gradient."""
        if jnp.ndim(xs) != 3:
            raise ValueError(f"`xs` must be (batch, time, features); got shape {jnp.shape(xs)}.")
        if lengths is not None:
            if isinstance(lengths, bool) or not jnp.issubdtype(
                jnp.result_type(lengths), jnp.integer
            ):
                raise TypeError(f"`lengths` must be an integer array (B,); got {lengths!r}.")
            if jnp.shape(lengths) != jnp.shape(xs)[:1]:
                raise ValueError(
                    f"`lengths` must have shape (B,) = {jnp.shape(xs)[:1]}; "
                    f"got {jnp.shape(lengths)}."
                )
        if state is None:
            return jax.vmap(lambda x, n: self(x, length=n))(xs, lengths)
        batched = (
            jax.tree_util.tree_leaves(state)[0].ndim
            > jax.tree_util.tree_leaves(self.initial_state)[0].ndim
        )
        return jax.vmap(
            lambda x, s, n: self(x, s, length=n), in_axes=(0, 0 if batched else None, 0)
        )(xs, state, lengths)
