"""`Block`: the residual block of deep recurrent models (norm → RNN → residual; norm → MLP →
residual), as ParaRNN's and the state-space language models' blocks are built."""

from typing import Any

import equinox as eqx
import jax
import jax.nn as jnn
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree

from .._engine import AbstractSolver, Auto, Solution
from .._engine._fallback import Fallback
from ._rnn import RNN, _output


class Block(eqx.Module):
    """A residual recurrent block on sequences of width `dim`:

    u = x + W_o RNN(norm₁(x)),   y = u + MLP(norm₂(u)),   MLP(v) = W₂ gelu(W₁ v)

    where the norms are RMS norms applied at every step and W_o maps the RNN's N outputs back
    to `dim` (ParaRNN's output projection).

    **Arguments:**

    - `cell`: a cell whose inputs have size `dim`, e.g. `paratime.cells.GRU(dim, N, key=k)`.
    - `dim`: the width of the residual stream.
    - `key`: a PRNG key for the projections.
    - `mlp_ratio`: the MLP's hidden width is `mlp_ratio * dim` (default 2).
    - `solver`: the `paratime.unroll` solver of the recurrent layer (`Auto()` by default).
    - `fallback`: the recurrent layer's failure policy (see `paratime.nn.RNN`; by default
        a failed parallel solve is finished exactly by the sequential scan).
    """

    norm_rnn: eqx.nn.RMSNorm
    rnn: RNN
    proj: eqx.nn.Linear
    norm_mlp: eqx.nn.RMSNorm
    mlp_in: eqx.nn.Linear
    mlp_out: eqx.nn.Linear

    def __init__(
        self,
        cell: Any,
        dim: int,
        *,
        key: PRNGKeyArray,
        mlp_ratio: int = 2,
        solver: AbstractSolver = Auto(),
        fallback: Fallback = "sequential",
    ):
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"`dim` must be a positive integer; got {dim!r}.")
        if not isinstance(mlp_ratio, int) or mlp_ratio < 1:
            raise ValueError(f"`mlp_ratio` must be a positive integer; got {mlp_ratio!r}.")
        self.rnn = RNN(cell, solver, fallback=fallback)
        dtype = jax.tree_util.tree_leaves(self.rnn.initial_state)[0].dtype
        k1, k2, k3 = jax.random.split(key, 3)
        n = self.rnn.output_size
        self.norm_rnn = eqx.nn.RMSNorm(dim, dtype=dtype)
        self.proj = eqx.nn.Linear(n, dim, key=k1, dtype=dtype)
        self.norm_mlp = eqx.nn.RMSNorm(dim, dtype=dtype)
        self.mlp_in = eqx.nn.Linear(dim, mlp_ratio * dim, key=k2, dtype=dtype)
        self.mlp_out = eqx.nn.Linear(mlp_ratio * dim, dim, key=k3, dtype=dtype)

    def _mlp(self, u: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return u + self.mlp_out(jnn.gelu(self.mlp_in(self.norm_mlp(u))))

    def apply(
        self,
        xs: Float[Array, "T dim"],
        *,
        guess: PyTree[Array] | None = None,
        throw: bool = True,
        length: Int[ArrayLike, ""] | None = None,
        resets: Bool[Array, " T"] | None = None,
    ) -> tuple[Float[Array, "T dim"], Solution]:
        """The block's outputs (T, dim) and the recurrent layer's `Solution` (its states are the
        warm start for the next call on similar inputs; pass them as `guess`).

        `length` and `resets` go to the recurrent layer (`RNN.solve`): a padded sequence's
        steps from `length` on, and packed sequences' boundaries, restart from the initial
        state. The outputs after `length` are not masked here (`SequenceModel` masks its own).
        """
        sol = self.rnn.solve(
            jax.vmap(self.norm_rnn)(xs), guess=guess, throw=throw, length=length, resets=resets
        )
        u = xs + jax.vmap(self.proj)(self.rnn.outputs(sol.states))
        return jax.vmap(self._mlp)(u), sol

    def __call__(self, xs: Float[Array, "T dim"]) -> Float[Array, "T dim"]:
        """The block's outputs (T, dim) for one sequence (T, dim)."""
        return self.apply(xs)[0]

    def step(
        self, x: Float[Array, " dim"], state: PyTree[Array]
    ) -> tuple[Float[Array, " dim"], PyTree[Array]]:
        """One time step, for generation: `(y_t, h_t)` from `x_t` and h_{t−1}."""
        state = self.rnn.cell(state, self.norm_rnn(x))
        u = x + self.proj(_output(self.rnn.cell, state))
        return self._mlp(u), state
