"""`SequenceModel`: embedding → residual recurrent blocks → norm → readout; `WarmStart`."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree

from .._engine import AbstractSolver, Auto
from .._engine._fallback import Fallback
from ._block import Block
from ._rnn import check_length, mask_padding


class WarmStart(eqx.Module):
    """The explicit warm-start state of a `SequenceModel`: each layer's last trajectory.

    Feed the `WarmStart` returned by one call into the next (e.g. the next training step on
    the same or similar sequences): each layer's previous states become its Newton solver's
    first iterate (`paratime.unroll(..., guess=...)`). Values are unchanged up to the solver's
    tolerance; only the number of Newton iterations changes. Gradients do not flow through it.

    **Fields:**

    - `states`: a tuple with one trajectory (T, ...) per block (a leading batch axis under
        `jax.vmap`).
    - `num_steps`: a tuple with the Newton iterations each block's solve took (0 for
        `Sequential`).
    """

    states: tuple[PyTree[Array], ...]
    num_steps: tuple[Int[Array, ""], ...]


class SequenceModel(eqx.Module):
    """A deep recurrent sequence model: an embedding (of token ids or a linear projection of
    feature vectors), `depth` residual `Block`s, an RMS norm and a linear readout applied at
    every step.

    It maps one sequence to outputs (T, output_size); `jax.vmap` it over a batch. For language
    modelling the outputs are next-token logits; for regression they are the predictions at
    every step; for classification take the last step's (or the mean over steps).

    **Arguments:**

    - `cell`: the cell constructor, called as `cell(dim, hidden_size, key=key)` for each block,
        e.g. `paratime.cells.GRU` (use `functools.partial` for extra options).
    - `dim`: the width of the residual stream.
    - `depth`: the number of blocks.
    - `output_size`: the size of the readout at each step.
    - `key`: a PRNG key.
    - `vocab_size`: for integer token inputs (T,): the embedding's number of tokens.
    - `input_size`: for real inputs (T, input_size): a linear input projection instead.
        Give exactly one of `vocab_size` and `input_size`.
    - `hidden_size`: the cells' state size N (default `dim`).
    - `mlp_ratio`: the blocks' MLP width as a multiple of `dim` (default 2).
    - `solver`: the `paratime.unroll` solver of every recurrent layer (`Auto()` by default).
    - `fallback`: the layers' failure policy (see `paratime.nn.RNN`; by default a failed
        parallel solve is finished exactly by the sequential scan).
    - `dtype`: the parameters' dtype (JAX's default float if `None`).

    **Example:**

    ```python
    import jax, paratime
    model = paratime.nn.SequenceModel(
        paratime.cells.GRU, dim=32, depth=2, output_size=256, vocab_size=256,
        key=jax.random.key(0), solver=paratime.DEER(),
    )
    tokens = jax.random.randint(jax.random.key(1), (8, 1024), 0, 256)
    logits = jax.vmap(model)(tokens)  # (8, 1024, 256)
    logits, warm = jax.vmap(model.warm)(tokens, None)  # and the warm start for next time
    ```
    """

    embedding: eqx.nn.Embedding | eqx.nn.Linear
    blocks: tuple[Block, ...]
    norm: eqx.nn.RMSNorm
    readout: eqx.nn.Linear

    def __init__(
        self,
        cell: Callable[..., Any],
        *,
        dim: int,
        depth: int,
        output_size: int,
        key: PRNGKeyArray,
        vocab_size: int | None = None,
        input_size: int | None = None,
        hidden_size: int | None = None,
        mlp_ratio: int = 2,
        solver: AbstractSolver = Auto(),
        dtype: Any = None,
        fallback: Fallback = "sequential",
    ):
        for name, value in (("dim", dim), ("depth", depth), ("output_size", output_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                "give exactly one of `vocab_size` (token inputs) and `input_size` (real inputs); "
                f"got vocab_size={vocab_size!r}, input_size={input_size!r}."
            )
        hidden_size = dim if hidden_size is None else hidden_size
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"`hidden_size` must be a positive integer; got {hidden_size!r}.")
        if not callable(cell):
            raise TypeError(f"`cell` must be a cell constructor; got {type(cell).__name__}.")
        dtype = jax.dtypes.canonicalize_dtype(jnp.float64 if dtype is None else dtype)
        ke, kr, *kb = jax.random.split(key, 2 + 2 * depth)
        if vocab_size is not None:
            if not isinstance(vocab_size, int) or vocab_size < 1:
                raise ValueError(f"`vocab_size` must be a positive integer; got {vocab_size!r}.")
            self.embedding = eqx.nn.Embedding(vocab_size, dim, key=ke, dtype=dtype)
        else:
            if not isinstance(input_size, int) or input_size < 1:
                raise ValueError(f"`input_size` must be a positive integer; got {input_size!r}.")
            self.embedding = eqx.nn.Linear(input_size, dim, key=ke, dtype=dtype)
        self.blocks = tuple(
            Block(
                cell(dim, hidden_size, key=kb[2 * i], dtype=dtype),
                dim,
                key=kb[2 * i + 1],
                mlp_ratio=mlp_ratio,
                solver=solver,
                fallback=fallback,
            )
            for i in range(depth)
        )
        self.norm = eqx.nn.RMSNorm(dim, dtype=dtype)
        self.readout = eqx.nn.Linear(dim, output_size, key=kr, dtype=dtype)

    def _embed(self, inputs: Array) -> Float[Array, "T dim"]:
        return jax.vmap(self.embedding)(inputs)

    def warm(
        self,
        inputs: Int[Array, " T"] | Float[Array, "T D"],
        warm_start: WarmStart | None = None,
        *,
        throw: bool = True,
        length: Int[ArrayLike, ""] | None = None,
        resets: Bool[Array, " T"] | None = None,
    ) -> tuple[Float[Array, "T O"], WarmStart]:
        """The outputs of one sequence, starting each layer's solve from `warm_start`.

        **Arguments:**

        - `inputs`: token ids (T,) or features (T, input_size).
        - `warm_start`: the `WarmStart` of an earlier call (or `None`: a cold start).
        - `throw`: passed to `paratime.unroll`.
        - `length`: the real length of a padded sequence (an integer scalar; one per
            sequence under `jax.vmap`): the outputs from `length` on are zero and carry no
            gradient, and every layer's state restarts there (no Newton iterations spent on
            padding).
        - `resets`: a boolean (T,) mask for packed sequences: every layer's state restarts
            from its initial state before each step where it is true (`paratime.unroll`).

        **Returns:**

        `(outputs, warm_start)`: outputs (T, output_size) and this call's `WarmStart`.
        """
        if warm_start is not None and len(warm_start.states) != len(self.blocks):
            raise ValueError(
                f"`warm_start` holds {len(warm_start.states)} layers; the model has "
                f"{len(self.blocks)}."
            )
        xs = self._embed(inputs)
        check_length(length, xs.shape[0])
        states, steps = [], []
        for i, block in enumerate(self.blocks):
            guess = None if warm_start is None else warm_start.states[i]
            xs, sol = block.apply(xs, guess=guess, throw=throw, length=length, resets=resets)
            states.append(lax.stop_gradient(sol.states))
            steps.append(sol.stats["num_steps"])
        out = jax.vmap(lambda x: self.readout(self.norm(x)))(xs)
        return mask_padding(out, length), WarmStart(tuple(states), tuple(steps))

    def __call__(
        self,
        inputs: Int[Array, " T"] | Float[Array, "T D"],
        *,
        length: Int[ArrayLike, ""] | None = None,
        resets: Bool[Array, " T"] | None = None,
    ) -> Float[Array, "T O"]:
        """The outputs (T, output_size) of one sequence of token ids (T,) or features (T, D);
        `length` and `resets` as in `warm`."""
        return self.warm(inputs, length=length, resets=resets)[0]

    def initial_states(self) -> tuple[PyTree[Array], ...]:
        """Every block's initial state, for `step`."""
        return tuple(block.rnn.initial_state for block in self.blocks)

    def step(
        self, x: Int[Array, ""] | Float[Array, " D"], states: tuple[PyTree[Array], ...]
    ) -> tuple[Float[Array, " O"], tuple[PyTree[Array], ...]]:
        """One time step (for generation): the output at x_t and every block's new state."""
        y = self.embedding(x)
        new = []
        for block, state in zip(self.blocks, states):
            y, state = block.step(y, state)
            new.append(state)
        return self.readout(self.norm(y)), tuple(new)
