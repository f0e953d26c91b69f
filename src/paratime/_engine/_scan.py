"""`linear_recurrence`: h_t = a_t h_{t∓1} + b_t by any recurrence strategy, checked and
differentiated implicitly."""

import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array, Inexact

from ._recurrences import AbstractRecurrence, check_recurrence, resolve
from ._structures import AbstractStructure, infer_structure


def _shift(x: Array, reverse: bool) -> Array:
    """Each step's neighbour in the recurrence: x_{t−1} (or x_{t+1} if `reverse`), zero-padded."""
    zero = jnp.zeros_like(x[:1])
    return jnp.concatenate([x[1:], zero]) if reverse else jnp.concatenate([zero, x[:-1]])


def _solve_recurrence(
    structure: AbstractStructure,
    recurrence: AbstractRecurrence,
    a: Array,
    b: Array,
    h0: Array,
    reverse: bool = False,
) -> Array:
    """The solve, differentiated implicitly by `lax.custom_linear_solve`.

    The recurrence is the bidiagonal linear system (L h)_t = h_t − a_t h_{t∓1} = b_t (with
    a h0 moved into the first step's b). Derivatives then never go through the scan itself: the
    JVP is one more solve and the VJP one solve in the opposite direction with the transposed
    transitions (the adjoint recurrence), instead of autodiff through every level of the scan.
    Forward and reverse mode and `vmap` all work.
    """
    zero = jnp.zeros_like(h0)
    first = -1 if reverse else 0
    b = b.at[first].add(structure.apply(a[first], h0))

    def matvec(h):
        return h - structure.apply(a, _shift(h, reverse))

    def solve(_, rhs):
        return recurrence.solve(structure, a, rhs, zero, reverse)

    def transpose_solve(_, rhs):
        # λ_t = rhs_t + a_{t±1}ᵀ λ_{t±1}: the adjoint recurrence, run the other way.
        a_adj = _shift(structure.transpose(a), not reverse)
        return recurrence.solve(structure, a_adj, rhs, zero, not reverse)

    return lax.custom_linear_solve(matvec, b, solve, transpose_solve)


def linear_recurrence(
    a: Inexact[Array, "T N"] | Inexact[Array, "T N N"] | Inexact[Array, "T K B B"],
    b: Inexact[Array, "T N"],
    h0: Inexact[Array, " N"],
    *,
    reverse: bool = False,
    structure: AbstractStructure | None = None,
    recurrence: AbstractRecurrence | None = None,
) -> Inexact[Array, "T N"]:
    """Solve h_t = a_t h_{t-1} + b_t by a parallel associative scan (O(log T) depth), a scan,
    in chunks or sharded over devices.

    Forward (`reverse=False`): h_t = a_t h_{t-1} + b_t for t = 1..T, starting from h_0 = `h0`.
    Reverse (`reverse=True`): h_t = a_t h_{t+1} + b_t for t = T..1, starting from
    h_{T+1} = `h0`. (This is the form of an adjoint recurrence.)

    **Arguments:**

    - `a`: the transition. Shape (T, N) for a diagonal transition (elementwise product),
        (T, N, N) for a dense one (matrix product), or (T, K, B, B) for a block-diagonal one with
        K blocks of size B, N = K*B. Real or complex.
    - `b`: the inputs, shape (T, N).
    - `h0`: the initial (or, with `reverse=True`, terminal) state, shape (N,).
    - `reverse`: run the recurrence backwards in time.
    - `structure`: the layout of `a`, a `paratime.structures` object: `Diagonal()`,
        `BlockDiagonal(k)` or `Dense()`. Inferred from the shapes if omitted.
    - `recurrence`: how to solve it, a `paratime.recurrences` object: `Associative()`
        (parallel scan, O(log T) depth), `Scan()` (`lax.scan`, O(T) depth, the fewest
        operations), `Chunked(size, inner=...)` (chunks one after another: peak memory
        scales with `size` instead of T) or `Sharded(mesh, axis_name)` (time split over the
        devices of a mesh; the result is sharded along time the same way; any T works).
        None (default): `Scan()` on a CPU, where it is measured to be faster, `Associative()`
        elsewhere.

    Differentiable in forward and reverse mode, implicitly: a gradient is one more linear
    recurrence run in reverse (the adjoint), not autodiff through the scan.

    **Returns:**

    The states h_1..h_T, shape (T, N), in the promoted dtype of the inputs.

    **Raises:**

    `ValueError` if the shapes do not fit together.

    **Example:**

    ```python
    import jax.numpy as jnp
    import paratime

    a = jnp.full((1000, 4), 0.9)
    b = jnp.ones((1000, 4))
    h = paratime.linear_recurrence(a, b, jnp.zeros(4))  # h[-1] ≈ 10
    scanned = paratime.linear_recurrence(a, b, jnp.zeros(4),
                                         recurrence=paratime.recurrences.Scan())
    ```
    """
    a, b, h0 = jnp.asarray(a), jnp.asarray(b), jnp.asarray(h0)
    if b.ndim != 2:
        raise ValueError(f"`b` must have shape (T, N); got shape {b.shape}.")
    T, N = b.shape
    if structure is None:
        structure = infer_structure(a, b)
    elif not isinstance(structure, AbstractStructure):
        raise TypeError(
            "`structure` must be a paratime.structures object (Diagonal(), BlockDiagonal(k) "
            f"or Dense()) or None; got {type(structure).__name__}."
        )
    if h0.shape != (N,):
        raise ValueError(f"`h0` must have shape (N,) = ({N},) to match `b`; got {h0.shape}.")
    if a.ndim < 1 or a.shape[0] != T:
        raise ValueError(f"`a` and `b` must have the same length T; got {a.shape} and {b.shape}.")
    try:
        structure.check(N)
    except ValueError as e:
        raise ValueError(f"`a` (structure {structure}) does not fit `b`: {e}") from None
    expected = (T,) + structure.shape(N)
    if a.shape != expected:
        raise ValueError(
            f"`a` must have shape {expected} for structure {structure} and N = {N}; got {a.shape}."
        )
    for name, x in (("a", a), ("b", b), ("h0", h0)):
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            raise ValueError(f"`{name}` must be a floating or complex array; got {x.dtype}.")
    check_recurrence(recurrence)
    dtype = jnp.promote_types(jnp.promote_types(a.dtype, b.dtype), h0.dtype)
    a, b, h0 = a.astype(dtype), b.astype(dtype), h0.astype(dtype)
    if T == 0:
        return b

    return _solve_recurrence(structure, resolve(recurrence), a, b, h0, reverse)
