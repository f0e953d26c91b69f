"""The Linear Recurrent Unit (Orvieto et al., 2023): a diagonal complex linear recurrence."""

import math
from typing import Any

import jax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from ._abstract import AbstractLinearCell
from ._init import check_key, check_real, check_size, default_float


class LRU(AbstractLinearCell):
    """h_t = λ ⊙ h_{t-1} + γ ⊙ (B x_t), with λ = exp(−exp(ν) + i·exp(θ)) and complex state.

    The readout is nonlinear: y_t = GELU(Re(C h_t) + D ⊙ x_t), with output size = input size.
    λ is initialised uniformly on the ring r_min ≤ |λ| ≤ r_max with phase in [0, max_phase];
    γ = √(1 − |λ|²) normalises the input, as in the paper. Use a complex `h0`
    (`cell.init_state()`). `output(state)` is the complex state itself; `readout(h, x)` is y.

    **Raises:**

    `ValueError`/`TypeError` naming the argument, unless `input_size`, `hidden_size`: positive
    ints; 0 <= `r_min` <= `r_max` < 1; `max_phase` > 0; `key` one PRNG key; `dtype` a real
    floating dtype.
    """

    nu_log: Float[Array, " N"]
    theta_log: Float[Array, " N"]
    gamma_log: Float[Array, " N"]
    B_re: Float[Array, "N D"]
    B_im: Float[Array, "N D"]
    C_re: Float[Array, "D N"]
    C_im: Float[Array, "D N"]
    D: Float[Array, " D"]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: PRNGKeyArray,
        r_min: float = 0.4,
        r_max: float = 0.99,
        max_phase: float = 2 * math.pi,
        dtype=None,
    ):
        input_size = check_size("input_size", input_size)
        hidden_size = check_size("hidden_size", hidden_size)
        check_key(key)
        r_max = check_real("r_max", r_max, low=0.0, high=1.0, open_high=True)
        r_min = check_real("r_min", r_min, low=0.0, high=1.0, open_high=True)
        if r_min > r_max:
            raise ValueError(f"`r_min` must be <= `r_max`; got r_min={r_min}, r_max={r_max}.")
        max_phase = check_real("max_phase", max_phase, low=0.0, open_low=True)
        dtype = default_float(dtype)
        k = jax.random.split(key, 7)
        N, D = hidden_size, input_size
        u1 = jax.random.uniform(k[0], (N,), dtype)
        u2 = jax.random.uniform(k[1], (N,), dtype)
        self.nu_log = jnp.log(-0.5 * jnp.log(u1 * (r_max**2 - r_min**2) + r_min**2))
        self.theta_log = jnp.log(max_phase * u2)
        modulus = jnp.exp(-jnp.exp(self.nu_log))
        self.gamma_log = jnp.log(jnp.sqrt(1 - modulus**2))
        self.B_re = jax.random.normal(k[2], (N, D), dtype) / math.sqrt(2 * D)
        self.B_im = jax.random.normal(k[3], (N, D), dtype) / math.sqrt(2 * D)
        self.C_re = jax.random.normal(k[4], (D, N), dtype) / math.sqrt(N)
        self.C_im = jax.random.normal(k[5], (D, N), dtype) / math.sqrt(N)
        self.D = jax.random.normal(k[6], (D,), dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.B_re.shape[0],), (self.B_re.shape[1],)

    def init_state(self) -> Complex[Array, " N"]:
        """The complex zero state (N,), complex128 for float64 parameters."""
        return jnp.zeros(self.nu_log.shape, jax.eval_shape(lambda: self.eigenvalues).dtype)

    @property
    def eigenvalues(self) -> Complex[Array, " N"]:
        return jnp.exp(-jnp.exp(self.nu_log) + 1j * jnp.exp(self.theta_log))

    def coefficients(
        self, x: Float[Array, " D"]
    ) -> tuple[Complex[Array, " N"], Complex[Array, " N"]]:
        bx = (self.B_re + 1j * self.B_im) @ x.astype(self.B_re.dtype)
        lam = self.eigenvalues
        return lam, jnp.exp(self.gamma_log) * bx

    def readout(
        self, h: Complex[Array, "... N"], x: Float[Array, "... D"]
    ) -> Float[Array, "... D"]:
        """y = GELU(Re(C h) + D ⊙ x); works on one step or on a whole trajectory."""
        y = jnp.real(h @ (self.C_re + 1j * self.C_im).T) + self.D * x
        return jnn.gelu(y)
