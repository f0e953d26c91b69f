"""Any cell seen as a map between flat vectors, so that solvers work on arrays of shape (T, N)."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ._cell import AbstractCell
from ._state import FlatState
from ._structures import AbstractStructure, Dense, Diagonal


class FlatCell(eqx.Module):
    """A cell seen as a map between flat vectors, with its Jacobian in a chosen structure.

    Cells that subclass `paratime.cells.AbstractCell` declare the structure of their exact
    Jacobian and may provide it analytically; any other callable is `Dense` and gets it by
    forward-mode autodiff.
    """

    cell: Callable
    state: FlatState

    def __call__(self, h: Array, x: Any) -> Array:
        return self.state.ravel(self.cell(self.state.unravel(h), x))

    @property
    def structure(self) -> AbstractStructure:
        """The structure of the cell's exact Jacobian (w.r.t. the ravelled state)."""
        if isinstance(self.cell, AbstractCell):
            return self.cell.jacobian_structure
        return Dense()

    def value_and_jacobian(self, h: Array, x: Any) -> tuple[Array, Array]:
        """f(h, x) and its exact Jacobian, in the layout of `self.structure`."""
        if isinstance(self.cell, AbstractCell):
            value, jac = self.cell.value_and_jacobian(self.state.unravel(h), x)
            return self.state.ravel(value), jac.astype(self.state.dtype)
        return Dense().jacobian(lambda y: self(y, x), h)

    def value_and_jacobian_diagonal(self, h: Array, x: Any) -> tuple[Array, Array]:
        if isinstance(self.cell, AbstractCell):
            value, diag = self.cell.value_and_jacobian_diagonal(self.state.unravel(h), x)
            return self.state.ravel(value), diag.astype(self.state.dtype)
        value, jac = Dense().jacobian(lambda y: self(y, x), h)
        return value, jnp.diagonal(jac)

    def linearise(self, h: Array, x: Any, structure: AbstractStructure) -> tuple[Array, Array]:
        """f(h, x) and its Jacobian projected onto `structure` (exact if the cell's own
        structure fits inside it)."""
        if structure == self.structure:
            return self.value_and_jacobian(h, x)
        if isinstance(structure, Diagonal):
            return self.value_and_jacobian_diagonal(h, x)
        value, jac = self.value_and_jacobian(h, x)
        return value, structure.project(jac, self.structure)
