"""Helpers shared by the structured cells: head-wise input projections and their initialisers."""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._init import check_size


def check_heads(input_size: int, hidden_size: int, num_heads: object) -> int:
    """`num_heads` as a positive int that divides both `input_size` and `hidden_size`."""
    num_heads = check_size("num_heads", num_heads)
    if input_size % num_heads or hidden_size % num_heads:
        raise ValueError(
            f"`num_heads` must divide both input_size ({input_size}) and hidden_size "
            f"({hidden_size}); got {num_heads}."
        )
    return num_heads


def head_projection(
    weight: Float[Array, "G H n d"], bias: Float[Array, "G N"], x: Float[Array, "... D"]
) -> Float[Array, "... G N"]:
    """The G gate pre-activations B_g x + b_g, each B_g block-diagonal by heads.

    Head h of the state (units [h·n, (h+1)·n)) reads only head h of the input
    (features [h·d, (h+1)·d)). Works on one step (D,) or on a whole sequence (T, D).
    """
    G, H, n, d = weight.shape
    xh = x.reshape(x.shape[:-1] + (H, d)).astype(weight.dtype)
    out = jnp.einsum("ghnd,...hd->...ghn", weight, xh)
    return out.reshape(x.shape[:-1] + (G, H * n)) + bias


def glorot_uniform(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int, fan_out: int, dtype):
    """U(−a, a) with a = √(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    bound = math.sqrt(6 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def small_normal(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int, dtype):
    """N(0, σ²) with σ = 2 / √(5·fan_in), the xLSTM-style scale ParaRNN uses for diagonal
    recurrent and peephole weights."""
    return jax.random.normal(key, shape, dtype) * (2 / math.sqrt(5 * fan_in))


def gate_bias(rows: int, hidden_size: int, dtype) -> Float[Array, "G N"]:
    """Biases for `rows` gates: zero, except row 0 (the update/forget gate), which runs
    linearly from 0 down to −1 across the units, as ParaRNN initialises it."""
    bias = jnp.zeros((rows, hidden_size), dtype)
    return bias.at[0].set(-jnp.linspace(0.0, 1.0, hidden_size, dtype=dtype))
