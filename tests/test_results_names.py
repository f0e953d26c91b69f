"""`RESULTS` items print by name, wherever they come from, and keep one PyTree type."""

import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime import RESULTS


@pytest.mark.parametrize("name", ["successful", "max_iters_reached", "nonfinite", "diverged"])
def test_members_print_by_name(name):
    item = getattr(RESULTS, name)
    assert repr(item) == str(item) == f"RESULTS.{name}"


def test_where_and_a_solution_print_by_name(getkey):
    picked = RESULTS.where(jnp.array(False), RESULTS.successful, RESULTS.diverged)
    assert repr(picked) == "RESULTS.diverged"
    assert jax.tree_util.tree_structure(picked) == jax.tree_util.tree_structure(RESULTS.successful)
    cell = paratime.cells.GRU(2, 3, key=getkey())
    sol = paratime.unroll(cell, jnp.zeros(3), jnp.ones((8, 2)), solver=paratime.DEER())
    assert repr(sol.result) == "RESULTS.successful"
    assert "result=RESULTS.successful" in repr(sol)
    assert bool(sol.result == RESULTS.successful) and isinstance(sol.result, RESULTS)


def test_batches_and_traced_items():
    codes = jax.vmap(lambda p: RESULTS.where(p, RESULTS.successful, RESULTS.nonfinite))(
        jnp.array([True, False])
    )
    assert repr(codes) == "RESULTS[successful, nonfinite]"
    seen = []

    def traced(pred):
        seen.append(repr(RESULTS.where(pred, RESULTS.successful, RESULTS.diverged)))
        return pred

    jax.jit(traced)(jnp.array(True))
    assert seen == ["RESULTS<traced>"]
