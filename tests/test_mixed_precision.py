"""Mixed precision: cells with bfloat16 (and float16) parameters, inputs and states; the
solver's states, recurrences and residual in float32 (`unroll(..., precision=None)`).

Every cell of `paratime.cells` matches a float32 reference within bfloat16 error.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from helpers import tree_max_abs_diff
from paratime import cells
from paratime._engine._checks import default_tolerance
from paratime._engine._solver import LinearScan

T, D, N = 32, 3, 4
F32 = jnp.float32
CELLS = {
    "elman": functools.partial(cells.Elman, weight_scale=0.5),
    "gru": cells.GRU,
    "lstm": cells.LSTM,
    "mingru": cells.MinGRU,
    "lru": cells.LRU,
    "diagonal_gru": cells.DiagonalGRU,
    "diagonal_lstm": cells.DiagonalLSTM,
    "block_gru": functools.partial(cells.BlockGRU, block_size=2),
    "cfc": cells.CfC,
    "slstm": cells.SLSTM,
}


def test_every_shipped_cell_is_covered():
    shipped = {
        name
        for name in dir(cells)
        if isinstance(getattr(cells, name), type)
        and issubclass(getattr(cells, name), cells.AbstractCell)
        and not name.startswith("Abstract")
    }
    covered = {getattr(c, "func", c).__name__ for c in CELLS.values()}
    assert shipped == covered


def _initial_state(cell, dtype):
    if isinstance(cell, cells.LRU):  # complex state: there is no complex bfloat16
        return jnp.zeros(N, jnp.complex64)
    if isinstance(cell, cells.SLSTM):
        return jnp.zeros((N, 3), dtype)
    return jax.tree_util.tree_map(lambda h: h.astype(dtype), paratime.nn.RNN(cell).initial_state)


def _to(tree, dtype):
    """The floating arrays of `tree` in `dtype` (complex ones stay complex)."""
    cast = lambda a: a.astype(dtype) if eqx.is_array(a) and jnp.isrealobj(a) else a  # noqa: E731
    return jax.tree_util.tree_map(cast, tree)


def _problem(name, dtype=jnp.bfloat16):
    cell = CELLS[name](D, N, key=jax.random.key(0), dtype=dtype)
    xs = jax.random.normal(jax.random.key(1), (T, D)).astype(dtype)
    return cell, _initial_state(cell, dtype), xs


def _reference(cell, h0, xs):
    """The float32 trajectory of the same (rounded) parameters and inputs, by `lax.scan`."""
    h0 = jax.tree_util.tree_map(lambda h: h.astype(jnp.promote_types(h.dtype, F32)), h0)
    return paratime.unroll(_to(cell, F32), h0, _to(xs, F32), solver=paratime.Sequential()).states


def _error(states, reference):
    return tree_max_abs_diff(_to(states, F32), reference)


@pytest.mark.parametrize("name", CELLS)
def test_every_cell_in_bfloat16_matches_float32(name):
    cell, h0, xs = _problem(name)
    solver = LinearScan() if name in ("mingru", "lru") else paratime.DEER()
    sol = jax.jit(lambda c, h, x: paratime.unroll(c, h, x, solver=solver))(cell, h0, xs)
    assert jax.tree_util.tree_leaves(sol.states)[0].dtype == jax.tree_util.tree_leaves(h0)[0].dtype
    assert sol.result == paratime.RESULTS.successful
    error = _error(sol.states, _reference(cell, h0, xs))
    eps = float(jnp.finfo(jnp.bfloat16).eps)
    assert error < 8 * eps, error
    if name != "lru":  # (its state is complex64: only its parameters are bfloat16)
        assert error > 1e-2 * eps  # the cell did run in bfloat16


@pytest.mark.parametrize(
    "solver",
    [paratime.DEER(), paratime.QuasiDEER(), paratime.ELK(), paratime.Parareal(4), paratime.Auto()],
    ids=["DEER", "QuasiDEER", "ELK", "Parareal", "Auto"],
)
def test_newton_converges_in_bfloat16_to_the_bfloat16_tolerance(solver):
    cell, h0, xs = _problem("gru")
    sol = paratime.unroll(cell, h0, xs, solver=solver)
    assert sol.result == paratime.RESULTS.successful
    assert sol.stats["residual"].dtype == F32  # the residual is float32
    assert _error(sol.states, _reference(cell, h0, xs)) < 8 * float(jnp.finfo(jnp.bfloat16).eps)


def test_the_tolerance_is_the_half_dtypes():
    assert default_tolerance(jnp.bfloat16) == pytest.approx((2.0**-7) ** 0.75)  # 0.026
    cell, h0, xs = _problem("gru")
    loose = paratime.unroll(cell, h0, xs, solver=paratime.DEER())
    tight = paratime.unroll(cell, h0, xs, solver=paratime.DEER(rtol=1e-6, atol=1e-6))
    assert int(loose.stats["num_steps"]) < int(tight.stats["num_steps"])


def test_float16():
    cell, h0, xs = _problem("gru", jnp.float16)
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER())
    assert sol.states.dtype == jnp.float16
    assert _error(sol.states, _reference(cell, h0, xs)) < 8 * float(jnp.finfo(jnp.float16).eps)


@pytest.mark.parametrize("name", ["gru", "diagonal_gru"])
def test_gradients_in_bfloat16_match_float32(name):
    cell, h0, xs = _problem(name)

    def loss(cell, h0, xs, solver):
        states = paratime.unroll(cell, h0, xs, solver=solver).states
        return jnp.sum(jnp.sin(states.astype(F32)))

    grad = eqx.filter_jit(eqx.filter_grad(loss))
    got = grad(cell, h0, xs, paratime.DEER())
    want = grad(_to(cell, F32), h0.astype(F32), xs.astype(F32), paratime.Sequential())
    assert jax.tree_util.tree_leaves(got)[0].dtype == jnp.bfloat16
    scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(want))
    assert tree_max_abs_diff(_to(got, F32), want) < 0.05 * scale


def test_precision_can_be_set():
    cell, h0, xs = _problem("gru")
    native = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), precision=jnp.bfloat16)
    mixed = paratime.unroll(cell, h0, xs, solver=paratime.DEER())
    assert native.stats["residual"].dtype == jnp.bfloat16
    assert _error(native.states, _reference(cell, h0, xs)) < 16 * float(jnp.finfo(jnp.bfloat16).eps)
    assert _error(native.states, _to(mixed.states, F32)) > 0  # they differ
    with pytest.raises(ValueError, match="`precision` must be None or a floating dtype"):
        paratime.unroll(cell, h0, xs, precision="int32")


def test_a_bfloat16_sequence_model_matches_float32():
    f32 = paratime.nn.SequenceModel(
        paratime.cells.GRU,
        dim=8,
        depth=1,
        output_size=5,
        vocab_size=11,
        key=jax.random.key(2),
        solver=paratime.DEER(),
        dtype=F32,
    )
    bf16 = _to(f32, jnp.bfloat16)

    tokens = jax.random.randint(jax.random.key(3), (2, T), 0, 11)

    def loss(model):
        logits = jax.vmap(model)(tokens[:, :-1]).astype(F32)
        return -jnp.mean(jax.nn.log_softmax(logits)[..., 0])

    assert float(abs(loss(bf16) - loss(f32))) < 0.05
    got, want = eqx.filter_grad(loss)(bf16), eqx.filter_grad(loss)(f32)
    assert all(np.all(np.isfinite(np.asarray(g, F32))) for g in jax.tree_util.tree_leaves(got))
    scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(want))
    assert tree_max_abs_diff(_to(got, F32), want) < 0.1 * scale


@pytest.mark.parametrize(
    "solver",
    [paratime.DEER(), paratime.QuasiDEER(), paratime.ELK(max_iters=20), paratime.Auto()],
    ids=["DEER", "QuasiDEER", "ELK", "Auto"],
)
def test_bfloat16_lowers_for_cuda(solver):
    """The mixed-precision programs (forward, gradient, batched gradient) lower for a GPU on
    this CPU-only machine: bfloat16 cell arithmetic, float32 recurrences, no host callback."""
    cell, h0, xs = _problem("diagonal_gru")

    def loss(cell, h0, xs):
        states = paratime.unroll(cell, h0, xs, solver=solver, throw=False).states
        return jnp.sum(states.astype(F32) ** 2)

    def grad(cell, h0, xs):
        return eqx.filter_grad(loss)(cell, h0, xs)

    programs = {
        "forward": loss,
        "gradient": grad,
        "batched-gradient": lambda c, h, x: jax.vmap(grad, in_axes=(None, None, 0))(c, h, x),
    }
    for kind, f in programs.items():
        args = (cell, h0, jnp.stack([xs] * 3) if kind.startswith("batched") else xs)
        with paratime.for_platform("cuda"):
            text = jax.jit(f).trace(*args).lower(lowering_platforms=("cuda",)).as_text()
        assert "callback" not in text, kind
        assert "bf16" in text and "f32" in text, kind
