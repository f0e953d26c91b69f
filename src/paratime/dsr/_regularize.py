"""The GTF papers' weight regularisation of the latent model and the observation model."""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._observation import AffineObservation, IdentityObservation


def latent_penalty(cell: Any) -> Float[Array, ""]:
    """The squared-L2 penalty of a latent model's weights, pulling A towards 1 and the rest
    towards 0: ‖1 − A‖² + Σ‖θ‖² over its other weight arrays (W, or W1, W2; h, or h1, h2).

    This is the `lat_model_regularization` term of the GTF code (Hess et al. 2023) for the
    PLRNN, shallow PLRNN and ALRNN: a model near A = 1, W = 0 is a slow, near-linear map.

    **Arguments:**

    - `cell`: a `PLRNN`, `ShallowPLRNN`, `ALRNN` (or any `eqx.Module` whose diagonal is `A`).

    **Returns:**

    A scalar; multiply it by λ (`latent_regularization`).
    """
    total = jnp.zeros(())
    for field in getattr(cell, "__dataclass_fields__", {}):
        value = getattr(cell, field)
        if not eqx.is_inexact_array(value):
            continue
        value = 1.0 - value if field == "A" else value
        total = total + jnp.sum(jnp.abs(value) ** 2)
    return total


def observation_penalty(observation: Any) -> Float[Array, ""]:
    """The GTF code's `obs_model_regularization` term: for the affine model x = Bz + b,
    (1 − σ_max(B)/σ_min(B))², which pulls B's condition number towards 1 so that the
    pseudo-inverse that lifts the data into the latent space (the forcing signal) stays well
    conditioned; for the identity model ‖L‖², the squared L2 norm of its estimate of the
    hidden units (0 without one).

    **Arguments:**

    - `observation`: an `AffineObservation` or `IdentityObservation`.

    **Returns:**

    A scalar; multiply it by λ (`observation_regularization`).
    """
    if isinstance(observation, IdentityObservation) and observation.L is not None:
        return jnp.sum(observation.L**2)
    if not isinstance(observation, AffineObservation):
        return jnp.zeros(())
    s = jnp.linalg.svd(observation.B, compute_uv=False)
    eps = jnp.asarray(1e-8, s.dtype)
    return (1.0 - s[0] / (s[-1] + eps)) ** 2


def regularization(model: Any, latent: float = 0.0, observation: float = 0.0) -> Float[Array, ""]:
    """λ_lat · `latent_penalty(model.cell)` + λ_obs · `observation_penalty(model.observation)`;
    0 for a model without those parts (e.g. `LinearSSM`) or where both λ are 0."""
    total = jnp.zeros(())
    if latent and hasattr(model, "cell"):
        total = total + latent * latent_penalty(model.cell)
    if observation and hasattr(model, "observation"):
        total = total + observation * observation_penalty(model.observation)
    return total
