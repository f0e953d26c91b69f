"""Build a DSR model from its name and sizes (what the command line stores in `config.json`)."""

from typing import Any, Literal, get_args

import jax
from jaxtyping import PRNGKeyArray

from ._model import DSRModel
from ._models import ALRNN, PLRNN, ShallowPLRNN
from ._observation import AffineObservation, IdentityObservation
from ._ssm import LinearSSM

ModelName = Literal["shplrnn", "clipped-shplrnn", "plrnn", "alrnn", "lru"]
ObservationName = Literal["identity", "affine"]
MODELS: tuple[str, ...] = get_args(ModelName)
OBSERVATIONS: tuple[str, ...] = get_args(ObservationName)


def build_model(
    name: str,
    data_size: int,
    *,
    latent: int,
    hidden: int,
    observation: str = "identity",
    num_relu: int | None = None,
    hidden_estimate: bool = False,
    key: PRNGKeyArray,
) -> Any:
    """A freshly initialised model.

    **Arguments:**

    - `name`: one of `shplrnn`, `clipped-shplrnn`, `plrnn`, `alrnn`, `lru` (the LRU-style
        linear state-space comparison model with an MLP readout).
    - `data_size`: d, the observation dimension.
    - `latent`: M, the latent size (for `lru`: the number of complex modes).
    - `hidden`: H, the hidden width of the shallow PLRNN (for `lru`: of the readout MLP).
    - `observation`: `identity` (x = z[:d], needs M ≥ d) or `affine` (x = B z + b).
    - `num_relu`: P for the ALRNN (default: M − d).
    - `hidden_estimate`: for the identity model with M > d, learn the estimate L x of the
        hidden units where a window or free run starts (`IdentityObservation`).
    - `key`: a PRNG key.

    **Returns:**

    A `DSRModel`, or a `LinearSSM` for `lru`.

    **Raises:**

    `ValueError` for an unknown name or observation model, or sizes that do not fit.
    """
    if name not in MODELS:
        raise ValueError(f"`model` must be one of {', '.join(MODELS)}; got {name!r}.")
    if observation not in OBSERVATIONS:
        raise ValueError(
            f"`observation` must be one of {', '.join(OBSERVATIONS)}; got {observation!r}."
        )
    if hidden_estimate and observation != "identity":
        raise ValueError("`hidden_estimate` needs the identity observation model.")
    for arg, value in (("data_size", data_size), ("latent", latent), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{arg}` must be a positive int; got {value!r}.")
    kcell, kobs = jax.random.split(key)
    if name == "lru":
        return LinearSSM(data_size, latent, hidden, key=kcell)
    if name in ("shplrnn", "clipped-shplrnn"):
        cell = ShallowPLRNN(latent, hidden, clipped=name == "clipped-shplrnn", key=kcell)
    elif name == "plrnn":
        cell = PLRNN(latent, key=kcell)
    else:
        p = max(latent - data_size, 0) if num_relu is None else num_relu
        cell = ALRNN(latent, p, key=kcell)
    if observation == "identity":
        obs = IdentityObservation(latent, data_size, hidden_estimate=hidden_estimate, key=kobs)
    else:
        obs = AffineObservation(latent, data_size, key=kobs)
    return DSRModel(cell, obs)
