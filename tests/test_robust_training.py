"""A first real training run does not die: a GRU `nn.RNN` in a small Equinox model, a batch
of 8, Adam 1e-2, trained to integrate its input. With DEER() and with Auto() it trains to
the end, its losses equal a Sequential run's at every step (float32), and every step logs
the Newton iterations, the fallbacks and the residual."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import paratime

B, T, D, N, STEPS = 8, 48, 2, 8, 300


class Model(eqx.Module):
    rnn: paratime.nn.RNN
    out: eqx.nn.Linear

    def __init__(self, solver, key):
        k1, k2 = jax.random.split(key)
        cell = paratime.cells.GRU(D, N, key=k1, dtype=jnp.float32)
        self.rnn = paratime.nn.RNN(cell, solver)
        self.out = eqx.nn.Linear(N, 1, key=k2, dtype=jnp.float32)

    def __call__(self, xs):
        return jax.vmap(self.out)(self.rnn(xs))[:, 0]


def loss(model, key):
    xs = jax.random.normal(key, (B, T, D), jnp.float32)
    target = jnp.cumsum(xs[..., 0], axis=1)
    return jnp.mean((jax.vmap(model)(xs) - target) ** 2)


def run(solver):
    model = Model(solver, jax.random.key(0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, history = paratime.train.fit(
            loss, model, optax.adam(1e-2), steps=STEPS, key=jax.random.key(1), progress=False
        )
    fallback_warnings = [w for w in caught if w.category is paratime.train.SolverFallbackWarning]
    return history, fallback_warnings


@pytest.fixture(scope="module")
def sequential():
    return run(paratime.Sequential())[0]


@pytest.mark.parametrize(
    "solver",
    [paratime.DEER(), paratime.Auto(), paratime.DEER(max_iters=2)],
    ids=["DEER", "Auto", "DEER-failing"],
)
def test_training_finishes_and_matches_sequential_at_every_step(solver, sequential):
    history, fallback_warnings = run(solver)
    assert len(history) == STEPS
    got = np.array([h["loss"] for h in history])
    want = np.array([h["loss"] for h in sequential])
    # Float32 round-off grows through 300 Adam steps: two exact methods, backpropagation
    # through the scan and the implicit adjoint (what Auto uses on a CPU), differ by up to
    # 2.8e-4 (relative) at the end; DEER, converged to float32 tolerance, by 6.2e-4.
    np.testing.assert_allclose(got[:40], want[:40], rtol=1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-3)
    if isinstance(solver, paratime.Auto):  # on a CPU, Auto solves sequentially: no Newton
        assert "newton_iters" not in history[0]
        return
    for h in history:  # logged at every step
        assert {"newton_iters", "fallbacks", "residual"} <= set(h)
        assert 0 <= h["fallbacks"] <= B
    fallbacks = sum(h["fallbacks"] for h in history)
    if solver.max_iters == 2:  # Newton cannot converge in 2 iterations: every solve falls back
        assert fallbacks == STEPS * B
        assert len(fallback_warnings) == 1  # said once, in one line
        message = str(fallback_warnings[0].message)
        assert "\n" not in message and "Sequential" in message
    else:
        assert fallbacks == 0 and not fallback_warnings
        assert max(h["newton_iters"] for h in history) <= 20


def test_solves_report_once_per_batch_and_only_inside_a_training_step():
    from paratime._engine._record import SolveLog, recording

    rnn = paratime.nn.RNN(paratime.cells.GRU(D, N, key=jax.random.key(0)), paratime.DEER())
    xs = jnp.ones((B, T, D))

    def callbacks(record: bool) -> int:
        f = jax.jit(jax.vmap(rnn))
        if not record:
            return f.lower(xs).as_text().count("callback")
        with recording(SolveLog(), jnp.asarray(7)):
            return f.lower(xs).as_text().count("callback")

    # One more host callback for the whole batch (not one per sequence), none outside.
    assert callbacks(True) - callbacks(False) == 1
    log = SolveLog()
    with recording(log, jnp.asarray(3)):
        jax.block_until_ready(jax.vmap(rnn)(xs))  # eagerly: the callback runs at once
    summary = log.pop(3)
    assert summary["fallbacks"] == 0 and summary["newton_iters"] >= 1
    assert summary["residual"] < 1e-6
