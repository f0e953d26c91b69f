"""What a cell hands the fused Newton kernel (no kernel code: cells import it)."""

from collections.abc import Callable
from typing import NamedTuple

from jaxtyping import Array


class FusedParts(NamedTuple):
    """What a cell gives the fused Newton kernel.

    - `k`: state components per unit (the ravelled state is (n, k), unit-major).
    - `params`: (P, n) per-unit constants (diagonal weights, peepholes).
    - `inputs`: (T, Q, n) the input pre-activations of every step (computed once per solve).
    - `step`: `step(params, inputs, state) -> (value, jacobian)` on tuples of per-unit
        vectors: P params, Q inputs and k state components in; k values and the k×k block
        (k² vectors, row-major) out. Elementwise arithmetic only: it runs inside the kernel.
    """

    k: int
    params: Array
    inputs: Array
    step: Callable[..., tuple[tuple, tuple]]
