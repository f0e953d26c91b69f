"""Failed Newton solves never return silently wrong states: error, result code or fallback."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from helpers import tree_max_abs_diff
from test_unroll import make_problem, reference_states

T = 32


def chaotic():
    """Elman with recurrent weights of spectral radius ≈ 3: DEER diverges from a cold start."""
    cell = paratime.cells.Elman(2, 4, key=jax.random.key(0), weight_scale=3.0)
    return cell, jnp.zeros(4), jax.random.normal(jax.random.key(1), (T, 2))


FAILED = (
    paratime.RESULTS.max_iters_reached,
    paratime.RESULTS.nonfinite,
    paratime.RESULTS.diverged,
)


def test_deer_throw_raises_a_clear_error():
    cell, h0, xs = chaotic()
    with pytest.raises(paratime.NewtonError) as info:
        paratime.unroll(cell, h0, xs, solver=paratime.DEER())
    message = str(info.value)
    assert "DEER" in message  # the solver
    assert f"T={T}" in message and "N=4" in message  # the problem size
    assert "iterations" in message and "residual" in message
    assert "ELK" in message and "Sequential" in message and "fallback" in message  # hints
    assert isinstance(info.value, RuntimeError)


def test_deer_throw_false_gives_a_result_code():
    cell, h0, xs = chaotic()
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), throw=False)
    assert sol.result != paratime.RESULTS.successful
    assert any(sol.result == r for r in FAILED)
    assert sol.states.shape == (T, 4)
    # The reported residual is the real one: large, or non-finite.
    assert not float(sol.stats["residual"]) < 1e-6


def test_quasideer_failure_is_reported():
    cell, h0, xs = chaotic()
    sol = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER(max_iters=10), throw=False)
    assert any(sol.result == r for r in FAILED)
    with pytest.raises(paratime.NewtonError, match="QuasiDEER"):
        paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER(max_iters=10))


def test_fallback_gives_the_exact_answer():
    cell, h0, xs = chaotic()
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), fallback="sequential")
    assert sol.result == paratime.RESULTS.successful
    assert bool(sol.stats["fallback_used"])
    assert int(sol.stats["newton_result"]) != 0
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-12


def test_fallback_is_not_used_when_newton_converges():
    cell, h0, xs = make_problem("gru")
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), fallback="sequential")
    assert not bool(sol.stats["fallback_used"])
    assert int(sol.num_steps) >= 1
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-10


def test_throw_under_jit_raises():
    cell, h0, xs = chaotic()

    @eqx.filter_jit
    def run(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=paratime.DEER()).states

    with pytest.raises(RuntimeError, match="DEER") as info:
        jax.block_until_ready(run(cell, h0, xs))
    message = str(info.value)
    assert "ELK" in message and "NewtonError" in message
    assert "Stopped after" in message and "iterations with residual" in message


def test_throw_under_vmap_raises_only_for_a_failed_member():
    """Batched, the check runs for every member and raises for the failed one only."""
    cell, h0, xs = chaotic()
    small = eqx.tree_at(lambda c: c.weight_hh, cell, 0.1 * cell.weight_hh)

    @eqx.filter_jit
    def run(cell, xs):
        return jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=paratime.DEER()).states)(xs)

    batch = jnp.stack([0.0 * xs, xs])  # the second member diverges on the chaotic cell
    jax.block_until_ready(run(small, batch))  # every member converges: no error
    # JAX reports a host callback's exception as a JaxRuntimeError, or (on its cached
    # dispatch path, as here: `run` has just been called) as a ValueError.
    with pytest.raises((RuntimeError, ValueError), match="NewtonError.*iterations with residual"):
        jax.block_until_ready(run(cell, batch))


def test_throw_false_under_jit_and_vmap():
    """A batch with one failing and one converging example: per-example result codes."""
    cell, h0, xs = chaotic()
    batch = jnp.stack([xs, 0.0 * xs])  # zero input: h stays near the fixed point, DEER converges
    small = eqx.tree_at(lambda c: c.weight_hh, cell, 0.1 * cell.weight_hh)

    @eqx.filter_jit
    def run(cell, xs):
        sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), throw=False)
        return sol.result._value, sol.states

    codes, _ = jax.vmap(run, in_axes=(None, 0))(cell, batch)
    assert int(codes[0]) != 0
    codes, states = jax.vmap(run, in_axes=(None, 0))(small, batch)
    assert [int(c) for c in codes] == [0, 0]
    assert tree_max_abs_diff(states[0], reference_states(small, h0, xs)) < 1e-10


def test_max_iters_reached_is_reported():
    cell, h0, xs = make_problem("gru")
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(max_iters=1), throw=False)
    assert sol.result == paratime.RESULTS.max_iters_reached
    assert int(sol.num_steps) == 1
    with pytest.raises(paratime.NewtonError, match="max_iters"):
        paratime.unroll(cell, h0, xs, solver=paratime.DEER(max_iters=1))


def test_nonfinite_is_reported():
    """A cell whose output becomes NaN part-way: the result says so; the scan agrees."""

    def cell(h, x):
        return 0.5 * h + jnp.log(x)  # NaN once x < 0

    xs = jnp.array([[1.0], [2.0], [-1.0], [1.0]])
    sol = paratime.unroll(cell, jnp.zeros(1), xs, solver=paratime.DEER(), throw=False)
    assert sol.result == paratime.RESULTS.nonfinite
    with pytest.raises(paratime.NewtonError, match="non-finite"):
        paratime.unroll(cell, jnp.zeros(1), xs, solver=paratime.DEER())


def test_elk_stays_finite_where_deer_diverges():
    cell, h0, xs = chaotic()
    deer = paratime.unroll(cell, h0, xs, solver=paratime.DEER(max_iters=5), throw=False)
    assert deer.result != paratime.RESULTS.successful
    # (The same solver as in test_elk.py, so the compiled solve is shared.)
    elk = paratime.unroll(cell, h0, xs, solver=paratime.ELK(max_iters=T), throw=False)
    assert bool(jnp.all(jnp.isfinite(elk.states)))
    assert bool(jnp.isfinite(elk.stats["residual"]))


def _gru_problem(T=40, N=4):
    cell = paratime.cells.GRU(2, N, key=jax.random.key(0))
    return cell, jnp.zeros(N), jax.random.normal(jax.random.key(1), (T, 2))


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("where", ["xs_nan", "h0_nan", "weights_inf", "weights_nan"])
def test_elk_reports_nonfinite(diagonal, where):
    """(An Inf weight meets h = 0: Inf·0 = NaN. An Inf input alone may saturate the GRU's
    gates to finite states, which is then a successful solve.)"""
    cell, h0, xs = _gru_problem()
    if where == "xs_nan":
        xs = xs.at[7, 0].set(jnp.nan)
    elif where == "h0_nan":
        h0 = h0.at[0].set(jnp.nan)
    else:
        bad = jnp.nan if where == "weights_nan" else jnp.inf
        cell = eqx.tree_at(lambda c: c.weight_hh, cell, cell.weight_hh.at[0, 0].set(bad))
    solver = paratime.ELK(diagonal=diagonal, max_iters=50)
    sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
    assert sol.result == paratime.RESULTS.nonfinite
    assert int(sol.stats["num_steps"]) < 50  # stops at once, not at max_iters


@pytest.mark.parametrize(
    "solver,name",
    [
        (paratime.QuasiDEER(max_iters=2), "QuasiDEER"),
        (paratime.ELK(max_iters=2), "ELK"),
        (paratime.ELK(diagonal=True, max_iters=2), "ELK"),
        (paratime.DEER(max_iters=1), "DEER"),
    ],
)
def test_hint_never_suggests_the_solver_that_failed(solver, name):
    cell, h0, xs = chaotic()
    with pytest.raises(paratime.NewtonError) as info:
        paratime.unroll(cell, h0, xs, solver=solver)
    message = str(info.value)
    assert message.startswith(name)
    assert f"`paratime.{name}()`" not in message
    assert "Sequential" in message  # some other suggestion is made


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(
    "solver",
    [paratime.DEER(), paratime.QuasiDEER(), paratime.Sequential(check_finite=True)],
)
@pytest.mark.parametrize("culprit", ["h0", "xs", "parameters"])
def test_nonfinite_input_is_named(culprit, solver, jit):
    cell, h0, xs = _gru_problem()
    if culprit == "h0":
        h0 = h0.at[1].set(jnp.nan)
    elif culprit == "xs":
        xs = xs.at[23, 1].set(jnp.nan)
    else:
        cell = eqx.tree_at(lambda c: c.bias_hh, cell, cell.bias_hh.at[0].set(jnp.nan))

    def run(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=solver).states

    run = eqx.filter_jit(run) if jit else run
    expected = {"h0": "`h0`", "xs": "`xs` holds one (first at step 23)", "parameters": "param"}
    with pytest.raises((RuntimeError, ValueError), match="non-finite") as info:
        jax.block_until_ready(run(cell, h0, xs))
    message = str(info.value)
    assert expected[culprit] in message
    assert "expanding" not in message  # the cell is not blamed


def test_expanding_cell_is_still_blamed_when_inputs_are_finite():
    def cell(h, x):
        return 0.5 * h + jnp.log(x)  # NaN once x < 0: the inputs themselves are finite

    xs = jnp.array([[1.0], [2.0], [-1.0], [1.0]])
    with pytest.raises(paratime.NewtonError, match="inputs are finite"):
        paratime.unroll(cell, jnp.zeros(1), xs, solver=paratime.DEER())


@pytest.mark.parametrize(
    "solver",
    [
        paratime.Sequential(check_finite=True),
        paratime.Sequential(check_finite=True, adjoint=paratime.ImplicitAdjoint()),
    ],
)
def test_sequential_reports_nonfinite_inputs_when_asked(solver):
    cell, h0, xs = _gru_problem()
    xs = xs.at[5, 0].set(jnp.nan)
    sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
    assert sol.result == paratime.RESULTS.nonfinite
    batched = jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver, throw=False))
    results = batched(jnp.stack([xs, jnp.nan_to_num(xs)])).result
    assert [bool(r) for r in results._value != 0] == [True, False]
    # Off by default (then nothing is checked: the states are NaN).
    off = paratime.unroll(cell, h0, xs, solver=paratime.Sequential(), throw=False)
    assert off.result == paratime.RESULTS.successful


def _every_iterative_solver():
    mesh = jax.make_mesh((2,), ("time",))
    return {
        "DEER": paratime.DEER(),
        "DEER-chunked": paratime.DEER(recurrence=paratime.recurrences.Chunked(16)),
        "QuasiDEER": paratime.QuasiDEER(),
        "ELK": paratime.ELK(max_iters=50),
        "ELK-diagonal": paratime.ELK(diagonal=True, max_iters=50),
        "Parareal": paratime.Parareal(4),
        "DEER-sharded": paratime.DEER(recurrence=paratime.recurrences.Sharded(mesh, "time")),
    }


@pytest.mark.parametrize("where", ["xs_nan", "h0_inf", "weights_nan"])
@pytest.mark.parametrize("name", list(_every_iterative_solver()))
def test_every_solver_reports_nonfinite(name, where):
    """NaN or Inf in `xs`, `h0` or the weights gives `nonfinite`, never `successful`, and the
    loop stops at once (chunked: in the chunk that holds it; the next chunks start from its
    unchanged guess and may iterate)."""
    cell, h0, xs = _gru_problem()
    if where == "xs_nan":
        xs = xs.at[7, 0].set(jnp.nan)
    elif where == "h0_inf":
        h0 = h0.at[0].set(jnp.inf)
    else:
        cell = eqx.tree_at(lambda c: c.weight_hh, cell, cell.weight_hh.at[0, 0].set(jnp.nan))
    solver = _every_iterative_solver()[name]
    sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
    assert sol.result == paratime.RESULTS.nonfinite
    if name != "DEER-chunked":
        assert int(sol.stats["num_steps"]) <= 1


@pytest.mark.parametrize("name", ["Parareal", "DEER-chunked", "DEER-sharded"])
def test_hint_never_suggests_the_solver_that_failed_for_other_solvers(name):
    solver = eqx.tree_at(
        lambda s: s.max_iters, _every_iterative_solver()[name], 1, is_leaf=lambda x: x is None
    )
    cell, h0, xs = chaotic()
    with pytest.raises(paratime.NewtonError) as info:
        paratime.unroll(cell, h0, xs, solver=solver)
    message = str(info.value)
    own = type(solver).__name__
    assert message.startswith(own)
    assert f"`paratime.{own}()`" not in message
