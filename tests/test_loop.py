"""The one iteration loop (`_loop.iterate`): termination, result codes, stats, batching."""

import math

import jax
import jax.numpy as jnp
import pytest

import paratime
from paratime._engine._loop import iterate

RESULTS = paratime.RESULTS


def _halving(target):
    """x ← x / 2 until x ≤ target: the residual is x, converged when x ≤ target."""

    def step(ops, x, active):
        x = jnp.where(active, x / 2, x)
        return x, x, x <= ops

    return step


def _run(x0, target, **kwargs):
    x0 = jnp.asarray(x0, jnp.float64)
    return iterate(_halving(target), (x0, x0, x0 <= target), jnp.asarray(target), **kwargs)


def test_converges_and_counts_steps():
    x, result, stats = _run(64.0, 1.0, max_iters=100)
    assert result == RESULTS.successful
    assert int(stats["num_steps"]) == 6 and float(x) == 1.0 == float(stats["residual"])


def test_max_iters_reached_and_zero_iterations():
    _, result, stats = _run(64.0, 1.0, max_iters=3)
    assert result == RESULTS.max_iters_reached and int(stats["num_steps"]) == 3
    x, result, stats = _run(64.0, 1.0, max_iters=0)
    assert result == RESULTS.max_iters_reached and int(stats["num_steps"]) == 0
    assert float(x) == 64.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_residual_stops_at_once(bad):
    def step(ops, x, active):
        return x + 1, jnp.asarray(bad), jnp.array(False)

    init = (jnp.array(0.0), jnp.array(1.0), jnp.array(False))
    x, result, stats = iterate(step, init, None, max_iters=50)
    assert result == RESULTS.nonfinite and int(stats["num_steps"]) == 1 and float(x) == 1.0


def test_divergence_bound():
    def step(ops, x, active):
        return 10 * x, 10 * x, jnp.array(False)

    init = (jnp.array(2.0), jnp.array(2.0), jnp.array(False))
    _, result, stats = iterate(step, init, None, max_iters=50, divergence=1e3)
    # 2 → 20 → 200 → 2000 → 20000 > 1e3·2: stops after 4 steps.
    assert result == RESULTS.diverged and int(stats["num_steps"]) == 4
    _, result, _ = iterate(step, init, None, max_iters=5)  # no bound by default
    assert result == RESULTS.max_iters_reached


@pytest.mark.parametrize("lockstep", [True, False])
def test_batched_members_stop_on_their_own(lockstep):
    x0 = jnp.array([64.0, 4.0, 1.0, jnp.nan])
    x, result, stats = jax.vmap(lambda x: _run(x, 1.0, max_iters=100, lockstep=lockstep))(x0)
    assert [int(k) for k in stats["num_steps"]] == [6, 2, 0, 0]
    assert [float(v) for v in x[:3]] == [1.0, 1.0, 1.0]
    want = [RESULTS.successful._value] * 3 + [RESULTS.nonfinite._value]
    assert [int(c) for c in result._value] == [int(c) for c in want]
