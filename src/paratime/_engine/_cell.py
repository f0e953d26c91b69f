"""Base classes for recurrent cells: a callable (h, x) -> h_next plus its Jacobians.

The engine owns these; `paratime.cells` re-exports them and builds on them.
"""

import abc
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.lax as lax
from jaxtyping import Array, Inexact, PyTree

from ._state import flat_state
from ._structures import AbstractStructure, Dense, Diagonal


def scan_cell(cell: Callable, h0: PyTree[Array], xs: Any) -> PyTree[Array]:
    """The states h_1..h_T of any cell `cell(h, x)`, by a plain `lax.scan`."""

    def step(h, x):
        h = cell(h, x)
        return h, h

    return lax.scan(step, h0, xs)[1]


class CellCosts(NamedTuple):
    """What one step of a cell costs, as XLA counts it for the compiled step.

    - `step_flops`, `step_bytes`: flops and bytes accessed of one `cell(h, x)`;
    - `jacobian_flops`: flops of one `cell.value_and_jacobian(h, x)` (the value and the
        Jacobian in the cell's structure);
    - `jacobian_numbers`, `jacobian_bytes`: the numbers and bytes of one step's Jacobian in
        that structure (what the implicit adjoint stores per step and reads back in its
        reverse scan).
    """

    step_flops: float
    step_bytes: float
    jacobian_flops: float
    jacobian_numbers: float
    jacobian_bytes: float


def _count(fn: Callable, spec: Any) -> tuple[float, float] | None:
    """XLA's (flops, bytes accessed) of `jax.jit(fn)` at the shapes of `spec`, or None."""
    try:
        cost = jax.jit(fn).lower(spec).cost_analysis()
    except Exception:  # a backend or an op without cost analysis: no estimate
        return None
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    cost = cost or {}
    if "flops" not in cost:
        return None
    return float(cost["flops"]), float(cost.get("bytes accessed", 0.0))


@functools.lru_cache(maxsize=256)
def _counted_costs(static: Any, spec: Any) -> CellCosts | None:
    def step(dynamic):
        cell, h, x = dynamic
        return eqx.combine(cell, static)(h, x)

    def jacobian(dynamic):
        cell, h, x = dynamic
        return eqx.combine(cell, static).value_and_jacobian(h, x)

    step_cost, jacobian_cost = _count(step, spec), _count(jacobian, spec)
    if step_cost is None or jacobian_cost is None:
        return None
    try:
        jac = jax.eval_shape(jacobian, spec)[1]
    except Exception:
        return None
    leaves = jax.tree_util.tree_leaves(jac)
    numbers = float(sum(a.size for a in leaves))
    jac_bytes = float(sum(a.size * a.dtype.itemsize for a in leaves))
    return CellCosts(*step_cost, jacobian_cost[0], numbers, jac_bytes)


def _is_shape(s: Any) -> bool:
    return isinstance(s, tuple) and all(isinstance(i, int) for i in s)


def _parameter_dtype(cell: Any) -> Any:
    """The dtype of the first floating parameter of `cell` (float32 when it has none)."""
    floats = [a.dtype for a in jax.tree_util.tree_leaves(cell) if eqx.is_inexact_array(a)]
    return floats[0] if floats else jax.numpy.float32


def _shape_spec(tree: Any) -> Any:
    """`tree` with each array (or shape-and-dtype leaf) replaced by its ShapeDtypeStruct."""
    return jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype) if hasattr(a, "dtype") else a, tree
    )


class AbstractCell(eqx.Module):
    """A recurrent cell h_t = f(h_{t-1}, x_t).

    Subclasses implement `__call__`. They may declare the structure of their exact Jacobian
    (`jacobian_structure`: `paratime.structures.Dense()` by default, or `Diagonal()`,
    `BlockDiagonal(k)`), and override `value_and_jacobian` and `value_and_jacobian_diagonal`
    with analytic versions; the defaults use forward-mode autodiff (one JVP for a diagonal
    Jacobian, k for a block-diagonal one, N for a dense one). Jacobians are taken with respect
    to the *ravelled* state (the leaves of the state PyTree flattened and concatenated in
    `jax.tree_util.tree_leaves` order), so a cell with a state `(h, c)` of sizes (n, n) has an
    N×N Jacobian with N = 2n.

    Any callable PyTree works with `paratime.unroll`; subclassing is only needed to provide
    cheaper Jacobians.
    """

    @abc.abstractmethod
    def __call__(self, h: PyTree[Inexact[Array, "..."]], x: Any) -> PyTree[Inexact[Array, "..."]]:
        """One step: the next state from the previous state `h` and the input `x`."""

    @property
    def jacobian_structure(self) -> AbstractStructure:
        """The structure of the exact Jacobian d h_next / d h (ravelled): `Dense()` unless a
        cell declares a sparser one. `value_and_jacobian` returns J in this layout, and
        `paratime.DEER` then solves with it exactly (O(T·N·k) memory for k×k blocks)."""
        return Dense()

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None] | None:
        """The shapes this cell takes, for error messages: `(state, input)`, where `state` is
        a PyTree of shape tuples like `h0` and `input` the shape of one step of `xs` (or None
        when any shape works), or None when the cell does not say (the default)."""
        return None

    def init_state(self) -> PyTree[Inexact[Array, "..."]]:
        """The all-zero initial state h_0, a PyTree that `paratime.unroll` accepts as `h0`.

        By default zeros of the state shapes of `expected_shapes()`, in the dtype of the
        cell's floating parameters. A cell whose state has another dtype (the complex state of
        `LRU`) or that declares no shapes overrides this.

        **Raises:**

        `ValueError` when the cell declares no state shapes (`expected_shapes()` is None).
        """
        shapes = self.expected_shapes()
        if shapes is None:
            raise ValueError(
                f"{type(self).__name__} does not declare its state shape; give it "
                "`expected_shapes()` or `init_state()`, or pass the initial state yourself."
            )
        dtype = _parameter_dtype(self)
        return jax.tree_util.tree_map(
            lambda s: jax.numpy.zeros(tuple(s), dtype), shapes[0], is_leaf=_is_shape
        )

    def output(self, state: PyTree[Inexact[Array, "..."]]) -> Inexact[Array, "... N"]:
        """What the cell outputs for `state` (one state, or a trajectory with leading axes):
        the state itself by default; the hidden vector h for cells whose state holds more
        (the `(h, c)` of `LSTM`, the packed arrays of `DiagonalLSTM` and `SLSTM`)."""
        return state

    def costs(self, h: Any = None, x: Any = None) -> CellCosts | None:
        """The flops and bytes of one step and of one step's Jacobian (`CellCosts`), which
        `paratime.Auto` weighs when it chooses a solver.

        **Arguments:**

        - `h`, `x`: a state and one input step (arrays or `jax.ShapeDtypeStruct`s; only their
            shapes and dtypes matter). None: the shapes of `expected_shapes()`, in the dtype of
            the cell's parameters.

        **Returns:**

        By default XLA's cost analysis of the compiled step and of `value_and_jacobian`,
        counted once per cell type, static fields and shapes; None where it cannot be had
        (no shapes, an unhashable static field, a backend without cost analysis). A cell may
        override this with its own counts.
        """
        if h is None or x is None:
            shapes = self.expected_shapes()
            if shapes is None or shapes[1] is None:
                return None
            state, inp = shapes
            floats = [a.dtype for a in jax.tree_util.tree_leaves(self) if eqx.is_inexact_array(a)]
            dtype = floats[0] if floats else jax.numpy.float32
            as_spec = lambda s: jax.ShapeDtypeStruct(tuple(s), dtype)
            h = jax.tree_util.tree_map(as_spec, state, is_leaf=_is_shape)
            x = as_spec(inp)
        dynamic, static = eqx.partition(self, eqx.is_array)
        try:
            return _counted_costs(static, _shape_spec((dynamic, h, x)))
        except TypeError:  # an unhashable static part: no cache, no estimate
            return None

    def trajectory(
        self, h0: PyTree[Inexact[Array, "..."]], xs: Any
    ) -> PyTree[Inexact[Array, "..."]]:
        """The states h_1..h_T one step after another (a PyTree like `h0` with a leading time
        axis): a `lax.scan` of `__call__`.

        A cell may override this with a faster loop that computes the same values (e.g. its
        input projections for all steps at once). `Sequential` and `Auto` use it for a single
        sequence whose states are not differentiated; where they are differentiated, or under
        `jax.vmap`, values and derivatives come from a `lax.scan` of `__call__`.
        """
        return scan_cell(self, h0, xs)

    def value_and_jacobian(
        self, h: PyTree[Inexact[Array, "..."]], x: Any
    ) -> tuple[PyTree[Inexact[Array, "..."]], Inexact[Array, "..."]]:
        """The next state and the Jacobian d h_next / d h (ravelled), in one pass, in the
        layout of `self.jacobian_structure` ((N, N) for `Dense`, (N,) for `Diagonal`,
        (N//k, k, k) for `BlockDiagonal(k)`)."""
        fs = flat_state(h)
        value, jac = self.jacobian_structure.jacobian(
            lambda y: fs.ravel(self(fs.unravel(y), x)), fs.ravel(h)
        )
        return fs.unravel(value), jac

    def value_and_jacobian_diagonal(
        self, h: PyTree[Inexact[Array, "..."]], x: Any
    ) -> tuple[PyTree[Inexact[Array, "..."]], Inexact[Array, " N"]]:
        """The next state and the diagonal of d h_next / d h (ravelled).

        The default projects `value_and_jacobian` onto the diagonal; shipped cells override it
        with an O(N) formula.
        """
        value, jac = self.value_and_jacobian(h, x)
        return value, Diagonal().project(jac, self.jacobian_structure)


class AbstractLinearCell(AbstractCell):
    """A cell that is linear and diagonal in its state: h_t = a(x_t) ⊙ h_{t-1} + b(x_t).

    `paratime.unroll` with `Auto()` solves such cells exactly with one `linear_recurrence`.
    The state must be a single array of shape (N,).
    """

    @abc.abstractmethod
    def coefficients(self, x: Any) -> tuple[Inexact[Array, " N"], Inexact[Array, " N"]]:
        """The per-step coefficients (a_t, b_t)."""

    def __call__(self, h: Inexact[Array, " N"], x: Any) -> Inexact[Array, " N"]:
        a, b = self.coefficients(x)
        return a * h + b

    def value_and_jacobian(self, h, x):
        a, b = self.coefficients(x)
        return a * h + b, Dense().project(a, Diagonal())

    def value_and_jacobian_diagonal(self, h, x):
        a, b = self.coefficients(x)
        return a * h + b, a
