"""Linear recurrences h_t = a_t h_{t-1} + b_t solved by a parallel associative scan."""

from typing import Literal

import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array, Inexact

from . import _recurrences
from ._recurrences import (
    AbstractRecurrence,
    Associative,
    Chunked,
    Sequential,
    check_recurrence,
    resolve,
)
from ._structures import AbstractStructure, Dense, Diagonal, infer_structure

Structure = AbstractStructure
Method = Literal["associative", "sequential"]


def _structure(a: Array, b: Array) -> AbstractStructure:
    """The structure of `a` inferred from its shape against `b` (one step or a stack)."""
    return infer_structure(a, b)


def _as_structure(structure: AbstractStructure | str) -> AbstractStructure:
    # The benchmark scripts name the two unblocked structures by string.
    if isinstance(structure, str):
        return {"diagonal": Diagonal(), "dense": Dense()}[structure]
    return structure


def _combine(structure: AbstractStructure):
    """The associative operator on pairs (A, b): apply (A1, b1) first, then (A2, b2)."""
    return _as_structure(structure).combine


def _apply(structure: AbstractStructure, a: Array, h: Array) -> Array:
    """a @ h for every step (leading axes broadcast; h ravelled)."""
    return _as_structure(structure).apply(a, h)


def _identity(structure: AbstractStructure, a: Array) -> Array:
    """An identity element shaped like one time step of `a`."""
    structure = _as_structure(structure)
    return structure.identity(structure.size(a), a.dtype)


def _scan_with_h0(
    structure: Structure, a: Array, b: Array, h0: Array, reverse: bool = False
) -> Array:
    """Parallel scan of one block from h0 (h0 enters at the last step when `reverse`)."""
    return Associative().solve(_as_structure(structure), a, b, h0, reverse)


def _sequential_with_h0(
    structure: Structure, a: Array, b: Array, h0: Array, reverse: bool = False
) -> Array:
    """The same recurrence by a sequential `lax.scan`: O(T) depth, the fewest operations."""
    return Sequential().solve(_as_structure(structure), a, b, h0, reverse)


def default_method() -> Method:
    """The faster way to solve a linear recurrence on the default backend (measured): the
    name of `paratime.recurrences`' default (`Sequential()` on a CPU, `Associative()`
    elsewhere; see `default_recurrence`)."""
    default = _recurrences.default_recurrence()  # (looked up at call time: tests patch it)
    return "sequential" if isinstance(default, Sequential) else "associative"


def _as_recurrence(method: str, chunk_size: int | None) -> AbstractRecurrence:
    """The strategy that the older `method=` and `chunk_size=` arguments name."""
    if method == "auto":
        inner = None
    else:
        inner = Sequential() if method == "sequential" else Associative()
    if chunk_size is not None:
        return Chunked(chunk_size, inner=inner)
    return resolve(inner)


def _solve_block(structure, method, a, b, h0, reverse):
    return _as_recurrence(method, None).solve(structure, a, b, h0, reverse)


def _solve(structure, method, chunk_size, a, b, h0, reverse):
    """h_t = a_t h_{t∓1} + b_t; `b` is (T, N)."""
    recurrence = _as_recurrence(method, chunk_size)
    return recurrence.solve(_as_structure(structure), a, b, h0, reverse)


def _apply_all(structure: AbstractStructure, a: Array, h: Array) -> Array:
    """a_t h_t at every step t."""
    return structure.apply(a, h)


def _shift(x: Array, reverse: bool) -> Array:
    """Each step's neighbour in the recurrence: x_{t−1} (or x_{t+1} if `reverse`), zero-padded."""
    zero = jnp.zeros_like(x[:1])
    return jnp.concatenate([x[1:], zero]) if reverse else jnp.concatenate([zero, x[:-1]])


def _solve_differentiable(structure, method, chunk_size, a, b, h0, reverse=False):
    """`_solve_recurrence` with the strategy the `method=`/`chunk_size=` arguments name."""
    recurrence = _as_recurrence(method, chunk_size)
    return _solve_recurrence(structure, recurrence, a, b, h0, reverse)


def _solve_recurrence(structure, recurrence, a, b, h0, reverse=False):
    """The solve, differentiated implicitly by `lax.custom_linear_solve`.

    The recurrence is the bidiagonal linear system (L h)_t = h_t − a_t h_{t∓1} = b_t (with
    a h0 moved into the first step's b). Derivatives then never go through the scan itself: the
    JVP is one more solve and the VJP one solve in the opposite direction with the transposed
    transitions (the adjoint recurrence), instead of autodiff through every level of the scan.
    Forward and reverse mode and `vmap` all work.
    """
    structure = _as_structure(structure)
    zero = jnp.zeros_like(h0)
    first = -1 if reverse else 0
    b = b.at[first].add(_apply(structure, a[first], h0))

    def matvec(h):
        return h - _apply_all(structure, a, _shift(h, reverse))

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
    chunk_size: int | None = None,
    method: Literal["auto", "associative", "sequential"] = "auto",
    structure: AbstractStructure | None = None,
    recurrence: AbstractRecurrence | None = None,
) -> Inexact[Array, "T N"]:
    """Solve h_t = a_t h_{t-1} + b_t by a parallel associative scan (O(log T) depth) or a scan.

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
        (parallel scan, O(log T) depth), `Sequential()` (`lax.scan`, O(T) depth, the fewest
        operations), `Chunked(size, inner=...)` (chunks one after another: peak memory
        scales with `size` instead of T) or `Sharded(mesh, axis_name)` (time split over the
        devices of a mesh). None (default): sequential on a CPU, where it is measured to be
        faster, associative elsewhere.
    - `chunk_size`, `method`: the older spelling of `recurrence`: `chunk_size=L` is
        `Chunked(L)`, `method="associative"`/`"sequential"` the strategy of that name (inside
        the chunks, if any); `"auto"` is the default.

    Differentiable in forward and reverse mode, implicitly: a gradient is one more linear
    recurrence run in reverse (the adjoint), not autodiff through the scan.

    **Returns:**

    The states h_1..h_T, shape (T, N), in the promoted dtype of the inputs.

    **Raises:**

    `ValueError` if the shapes do not fit together.

    **Example:**

    ```python
    a = jnp.full((1000, 4), 0.9)
    b = jnp.ones((1000, 4))
    h = paratime.linear_recurrence(a, b, jnp.zeros(4))  # h[-1] ≈ 10
    ```
    """
    a, b, h0 = jnp.asarray(a), jnp.asarray(b), jnp.asarray(h0)
    if b.ndim != 2:
        raise ValueError(f"`b` must have shape (T, N); got shape {b.shape}.")
    T, N = b.shape
    if structure is None:
        structure = _structure(a, b)
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
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"`chunk_size` must be a positive int or None; got {chunk_size!r}.")
    if method not in ("auto", "associative", "sequential"):
        raise ValueError(f"`method` must be 'auto', 'associative' or 'sequential'; got {method!r}.")
    check_recurrence(recurrence)
    if recurrence is None:
        recurrence = _as_recurrence(method, chunk_size)
    elif chunk_size is not None or method != "auto":
        raise ValueError("give either `recurrence` or `chunk_size`/`method`, not both.")
    dtype = jnp.promote_types(jnp.promote_types(a.dtype, b.dtype), h0.dtype)
    a, b, h0 = a.astype(dtype), b.astype(dtype), h0.astype(dtype)
    if T == 0:
        return b

    return _solve_recurrence(structure, recurrence, a, b, h0, reverse)


def sequential_linear_recurrence(a: Array, b: Array, h0: Array, *, reverse: bool = False) -> Array:
    """The same recurrence as `linear_recurrence`, by a plain `lax.scan` differentiated by
    ordinary autodiff (no custom derivative): the reference the tests compare against."""
    structure = _structure(a, b)
    dtype = jnp.promote_types(jnp.promote_types(a.dtype, b.dtype), h0.dtype)
    a, b, h0 = a.astype(dtype), b.astype(dtype), h0.astype(dtype)
    return _sequential_with_h0(structure, a, b, h0, reverse)
