"""The six ELM architectures as recurrent cells with random, frozen weights.

Cells with output feedback (Jordan, NARMAX, fully connected) take the input `(u_t, y_{t-1})`,
where `y_{t-1}` is the previous output: the observed one under teacher forcing (training) and
the model's own prediction in closed loop. Elman, LSTM and GRU take `u_t` alone.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ..cells import GRU, LSTM, AbstractCell, Elman
from ._weights import input_weights, recurrent_weights, stacked_recurrent_weights

ARCHITECTURES: tuple[str, ...] = ("elman", "jordan", "narmax", "fully-connected", "lstm", "gru")
_ALIASES = {
    "fc": "fully-connected",
    "fully_connected": "fully-connected",
    "fcrnn": "fully-connected",
}


class AbstractFeedbackCell(AbstractCell):
    """An ELM cell whose per-step input is `(u_t, y_{t-1})`: the input and the fed-back
    output. `direct(state, u)` is what its direct input-to-output links carry."""

    def direct(self, state: PyTree[Array], u: Float[Array, " D"]) -> Float[Array, " M"]:
        """The direct links' inputs: the current input `u` (all input lags for NARMAX)."""
        return u


class Jordan(AbstractFeedbackCell):
    """Jordan network: context units integrate the fed-back output.

    c_t = decay · c_{t-1} + y_{t-1},   h_t = tanh(W_u u_t + W_c c_t + b).  State `(c, h)`.
    """

    weight_in: Float[Array, "N D"]
    weight_fb: Float[Array, "N K"]
    bias: Float[Array, " N"]
    decay: float = eqx.field(static=True)

    def __call__(self, state, x):
        (c, _), (u, y_prev) = state, x
        c = self.decay * c + y_prev
        return c, jnp.tanh(self.weight_in @ u + self.weight_fb @ c + self.bias)

    def expected_shapes(self):
        """`((K,), (N,))` for the state `(c, h)`; the input `(u, y_prev)` is not checked."""
        return ((self.weight_fb.shape[1],), self.bias.shape), None

    def output(self, state):
        """The hidden units h of the state `(c, h)`: what the output layer reads."""
        return state[1]


class NARMAX(AbstractFeedbackCell):
    """NARMAX network: tapped delay lines of the last `lags` inputs and outputs feed a
    tanh layer, h_t = tanh(W_u [u_t … u_{t-lags+1}] + W_y [y_{t-1} … y_{t-lags}] + b).
    State `(u_lags, y_lags, h)`; its direct links carry all input lags."""

    weight_in: Float[Array, "N LD"]
    weight_fb: Float[Array, "N LK"]
    bias: Float[Array, " N"]
    lags: int = eqx.field(static=True)

    def __call__(self, state, x):
        (u_lags, y_lags, _), (u, y_prev) = state, x
        u_lags = jnp.concatenate([u, u_lags[: -u.shape[0]]])
        y_lags = jnp.concatenate([y_prev, y_lags[: -y_prev.shape[0]]])
        h = jnp.tanh(self.weight_in @ u_lags + self.weight_fb @ y_lags + self.bias)
        return u_lags, y_lags, h

    def expected_shapes(self):
        """`((lags·D,), (lags·K,), (N,))` for the state `(u_lags, y_lags, h)`; the input
        `(u, y_prev)` is not checked."""
        return ((self.weight_in.shape[1],), (self.weight_fb.shape[1],), self.bias.shape), None

    def output(self, state):
        """The hidden units h of the state `(u_lags, y_lags, h)`."""
        return state[2]

    def direct(self, state, u):
        """All `lags` input lags, the first part of the state."""
        return state[0]


class FullyConnected(AbstractFeedbackCell):
    """Fully connected RNN: every hidden unit sees all hidden units and the fed-back output,
    h_t = tanh(W_h h_{t-1} + W_u u_t + W_y y_{t-1} + b)."""

    weight_hh: Float[Array, "N N"]
    weight_in: Float[Array, "N D"]
    weight_fb: Float[Array, "N K"]
    bias: Float[Array, " N"]

    def __call__(self, h, x):
        u, y_prev = x
        return jnp.tanh(
            self.weight_hh @ h + self.weight_in @ u + self.weight_fb @ y_prev + self.bias
        )

    def expected_shapes(self):
        """`(N,)` for the state h; the input `(u, y_prev)` is not checked."""
        return self.bias.shape, None


def canonical_arch(arch: str) -> str:
    """The canonical architecture name; raises `ValueError` for an unknown one."""
    name = _ALIASES.get(arch.lower(), arch.lower())
    if name not in ARCHITECTURES:
        raise ValueError(f"`arch` must be one of {ARCHITECTURES}; got {arch!r}.")
    return name


def uses_feedback(cell: AbstractCell) -> bool:
    """Whether the cell's per-step input is `(u_t, y_{t-1})` rather than `u_t`."""
    return isinstance(cell, AbstractFeedbackCell)


def direct_inputs(cell: AbstractCell, state, u: Float[Array, " D"]) -> Float[Array, " M"]:
    """What the direct input-to-output links carry: the current input (all input lags for
    NARMAX)."""
    return cell.direct(state, u) if isinstance(cell, AbstractFeedbackCell) else u


def make_cell(
    arch: str,
    input_size: int,
    hidden_size: int,
    *,
    key: PRNGKeyArray,
    output_size: int | None = None,
    spectral_radius: float = 0.9,
    input_scaling: float = 1.0,
    bias_scaling: float = 0.2,
    lags: int = 3,
    decay: float = 0.5,
    dtype=None,
) -> AbstractCell:
    """A cell of architecture `arch` with random weights (frozen in ELM training).

    **Arguments:**

    - `arch`: one of `ARCHITECTURES` ("fc" is accepted for "fully-connected").
    - `input_size`, `hidden_size`: D and N. `output_size`: K, the fed-back output (default D).
    - `key`: PRNG key.
    - `spectral_radius`: every square recurrent block is rescaled to this spectral radius.
    - `input_scaling`: input (and output-feedback) weights are U(−s, s).
    - `bias_scaling`: biases are U(−s, s).
    - `lags`: NARMAX delay-line length. `decay`: Jordan context decay in [0, 1).
    - `dtype`: parameter dtype (default: float64 when x64 is on, else float32).

    **Returns:**

    A `paratime.cells.AbstractCell`: `paratime.cells.Elman`, `GRU` or `LSTM` with rescaled
    weights, or `Jordan`, `NARMAX`, `FullyConnected` from this module.

    **Raises:**

    `ValueError` for an unknown architecture or non-positive sizes.
    """
    arch = canonical_arch(arch)
    K = input_size if output_size is None else output_size
    if min(input_size, hidden_size, K, lags) < 1:
        raise ValueError(
            "`input_size`, `hidden_size`, `output_size` and `lags` must be >= 1; got "
            f"{input_size}, {hidden_size}, {K}, {lags}."
        )
    for name, value in (
        ("spectral_radius", spectral_radius),
        ("input_scaling", input_scaling),
        ("bias_scaling", bias_scaling),
    ):
        if not (isinstance(value, int | float) and 0 <= value < math.inf):
            raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    if not 0 <= decay < 1:
        raise ValueError(f"`decay` must be in [0, 1); got {decay}.")
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64 if dtype is None else dtype)
    N = hidden_size
    k_in, k_hh, k_fb, k_b, k_cell = jax.random.split(key, 5)

    def w_in(k, rows, cols):
        return input_weights(k, (rows, cols), input_scaling, dtype)

    bias = input_weights(k_b, (N,), bias_scaling, dtype)
    if arch == "jordan":
        return Jordan(w_in(k_in, N, input_size), w_in(k_fb, N, K), bias, decay)
    if arch == "narmax":
        return NARMAX(w_in(k_in, N, lags * input_size), w_in(k_fb, N, lags * K), bias, lags)
    w_hh = recurrent_weights(k_hh, N, spectral_radius, dtype)
    if arch == "fully-connected":
        return FullyConnected(w_hh, w_in(k_in, N, input_size), w_in(k_fb, N, K), bias)
    if arch == "elman":
        cell = Elman(input_size, N, key=k_cell, dtype=dtype)
        return eqx.tree_at(
            lambda c: (c.weight_hh, c.weight_ih, c.bias),
            cell,
            (w_hh, w_in(k_in, N, input_size), bias),
        )
    gates = 3 if arch == "gru" else 4
    cell = (GRU if arch == "gru" else LSTM)(input_size, N, key=k_cell, dtype=dtype)
    k_bi, k_bh = jax.random.split(k_b)
    return eqx.tree_at(
        lambda c: (c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh),
        cell,
        (
            w_in(k_in, gates * N, input_size),
            stacked_recurrent_weights(k_hh, gates, N, spectral_radius, dtype),
            input_weights(k_bi, (gates * N,), bias_scaling, dtype),
            jnp.zeros(gates * N, dtype),
        ),
    )
