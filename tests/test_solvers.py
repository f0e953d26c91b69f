"""Solver behaviour: Auto's choice, Newton convergence properties, chunking, custom solvers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from helpers import tree_max_abs_diff
from paratime._engine._solver import LinearScan
from test_unroll import make_problem, reference_states

# The sequential scan differentiated by the implicit adjoint: the exact one ("dense", in the
# cell's own structure) or the iterative one preconditioned with the diagonal.
IMPLICIT_SEQUENTIAL = {
    "dense": paratime.Sequential(adjoint=paratime.ImplicitAdjoint()),
    "diagonal": paratime.Sequential(
        adjoint=paratime.IterativeAdjoint(paratime.structures.Diagonal())
    ),
}


@pytest.mark.parametrize("T", [10, 100_000])
def test_auto_on_cpu_is_a_sequential_scan_or_linear_scan(T):
    gru, _, _ = make_problem("gru")
    chosen = paratime.Auto().select(gru, T, 16)
    # Shipped cells: the scan forward, differentiated by the implicit adjoint.
    assert chosen == paratime.Sequential(adjoint=paratime.ImplicitAdjoint())
    assert paratime.Auto().select(gru, T, 1000) == paratime.Sequential()  # BPTT for large N
    # Cells without analytic Jacobians: plain backpropagation through the scan.
    assert paratime.Auto().select(lambda h, x: h, T, 16) == paratime.Sequential()
    for name in ("mingru", "lru"):
        cell, _, _ = make_problem(name)
        assert isinstance(paratime.Auto().select(cell, T, 16), LinearScan)


@pytest.mark.parametrize("kind", ["dense", "diagonal"])
def test_implicit_sequential_gradients(kind):
    cell, h0, xs = make_problem("lstm")
    solver = IMPLICIT_SEQUENTIAL[kind]
    loss = lambda c, fn: jnp.sum(jax.tree_util.tree_leaves(fn(c))[0] ** 3)
    got = eqx.filter_grad(loss)(cell, lambda c: paratime.unroll(c, h0, xs, solver=solver).states)
    want = eqx.filter_grad(loss)(cell, lambda c: reference_states(c, h0, xs))
    assert tree_max_abs_diff(got, want) < 1e-10


def test_auto_with_an_explicit_batch_chooses_alike_under_jit_vmap_and_vmap_jit():
    gru, h0, xs = make_problem("gru")
    batch = jnp.stack([xs, 0.5 * xs])
    chosen = []

    class Spy(paratime.Auto):
        def select(self, *args, **kwargs):
            chosen.append(kwargs["batch"])  # the batch size the choice is made for
            return super().select(*args, **kwargs)

    def run(x):
        return paratime.unroll(gru, h0, x, solver=Spy(batch=2)).states

    a = jax.jit(jax.vmap(run))(batch)
    b = jax.vmap(jax.jit(run))(batch)
    assert chosen == [2, 2]  # (without `batch=`, vmap(jit(...)) would see 1)
    assert tree_max_abs_diff(a, b) < 1e-12
    with pytest.raises(ValueError, match="`batch`"):
        paratime.Auto(batch=0)


def test_auto_on_a_gpu():
    gru, _, _ = make_problem("gru")
    select = paratime.Auto().select
    assert select(gru, 100, 16, backend="gpu") == paratime.Sequential()
    assert select(gru, 100_000, 16, backend="gpu") == paratime.DEER()
    assert select(gru, 100_000, 1024, backend="gpu") == paratime.QuasiDEER()
    mingru, _, _ = make_problem("mingru")
    assert isinstance(select(mingru, 100_000, 16, backend="gpu"), LinearScan)


def test_auto_resolves_before_solving():
    cell, h0, xs = make_problem("gru")
    sol = paratime.unroll(cell, h0, xs)  # Auto -> Sequential on a CPU
    assert int(sol.num_steps) == 0
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) == 0.0


def test_newton_is_exact_after_T_iterations_even_when_chaotic():
    """Newton on the triangular trajectory system fixes one more step per iteration."""
    T = 6
    cell = paratime.cells.Elman(2, 4, key=jax.random.key(0), weight_scale=3.0)
    h0, xs = jnp.zeros(4), jax.random.normal(jax.random.key(1), (T, 2))
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(max_iters=T, divergence=jnp.inf))
    assert int(sol.num_steps) <= T
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-10


@pytest.mark.parametrize("solver", [paratime.DEER(), paratime.QuasiDEER()])
def test_newton_on_a_linear_cell_takes_one_step(solver):
    """MinGRU is linear in h (diagonal): one exact Newton step, then convergence is seen."""
    cell, h0, xs = make_problem("mingru")
    sol = paratime.unroll(cell, h0, xs, solver=solver)
    assert int(sol.num_steps) == 1
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-12


def test_linear_scan():
    cell, h0, xs = make_problem("lru")
    sol = paratime.unroll(cell, h0, xs, solver=LinearScan())
    assert int(sol.num_steps) == 1 and sol.result == paratime.RESULTS.successful
    assert sol.states.dtype == h0.dtype
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-12


def test_deer_converges_faster_than_quasideer():
    cell, h0, xs = make_problem("gru", length=32)
    deer = paratime.unroll(cell, h0, xs, solver=paratime.DEER())
    quasi = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER())
    assert 1 <= int(deer.num_steps) < int(quasi.num_steps)


def test_tolerances_are_respected():
    cell, h0, xs = make_problem("gru", length=32)
    tight = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER())
    loose = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER(rtol=0, atol=1e-4))
    assert int(loose.num_steps) < int(tight.num_steps)
    assert float(loose.stats["residual"]) <= 1e-4
    assert float(tight.stats["residual"]) <= 1e-11
    assert 1e-12 < tree_max_abs_diff(loose.states, reference_states(cell, h0, xs)) < 1e-3


@pytest.mark.parametrize("size", [1, 4, 7, 64])
def test_chunked_deer(size):
    """Chunks of any size (dividing T or not, or longer than T), with a PyTree state."""
    cell, h0, xs = make_problem("lstm", length=20)
    sol = paratime.unroll(
        cell, h0, xs, solver=paratime.DEER(recurrence=paratime.recurrences.Chunked(size))
    )
    assert sol.result == paratime.RESULTS.successful
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-10
    if size == 1:
        assert int(sol.num_steps) == 1  # one step per chunk is solved exactly at once


def test_chunked_quasideer_with_warm_start():
    # (T a multiple of the chunk size: a padded last chunk starts from a padded guess.)
    cell, h0, xs = make_problem("gru", length=18)
    exact = reference_states(cell, h0, xs)
    solver = paratime.QuasiDEER(recurrence=paratime.recurrences.Chunked(6))
    sol = paratime.unroll(cell, h0, xs, solver=solver)
    assert tree_max_abs_diff(sol.states, exact) < 1e-10
    warm = paratime.unroll(cell, h0, xs, solver=solver, guess=exact)
    assert int(warm.num_steps) == 0


def test_chunking_a_chaotic_cell():
    """Chunks no longer than `max_iters` are solved exactly even for a chaotic cell (where the
    unchunked DEER diverges); with fewer iterations than that the failure is reported."""
    cell = paratime.cells.Elman(2, 4, key=jax.random.key(0), weight_scale=3.0)
    h0, xs = jnp.zeros(4), jax.random.normal(jax.random.key(1), (32, 2))
    chunks = paratime.recurrences.Chunked(8)
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(recurrence=chunks, divergence=jnp.inf))
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-10
    solver = paratime.DEER(recurrence=chunks, max_iters=2)
    sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
    assert sol.result != paratime.RESULTS.successful
    with pytest.raises(paratime.NewtonError):
        paratime.unroll(cell, h0, xs, solver=solver)


class Doubling(paratime.AbstractSolver):
    """A user-written solver: the scan, run twice (to check `unroll` only uses the interface)."""

    adjoint: paratime.AbstractAdjoint = paratime.ImplicitAdjoint()

    def hint(self, result):
        return " Try `paratime.Sequential()`."

    def solve(self, cell, h0, xs, guess):
        seq = paratime.Sequential()
        first = seq.solve(cell, h0, xs, guess)
        again = seq.solve(cell, h0, xs, first.states)
        assert isinstance(again, paratime.SolveResult) and again.linearisation is None
        return paratime.SolveResult(
            again.states, first.result, {**first.stats, "num_steps": jnp.array(2)}
        )


def test_a_user_defined_solver_with_the_dense_adjoint():
    cell, h0, xs = make_problem("gru")
    sol = paratime.unroll(cell, h0, xs, solver=Doubling())
    assert int(sol.num_steps) == 2
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-12
    # Its adjoint is the default dense one: gradients are exact without differentiating solve.
    loss = lambda c, fn: jnp.sum(fn(c) ** 2)
    got = eqx.filter_grad(loss)(
        cell, lambda c: paratime.unroll(c, h0, xs, solver=Doubling()).states
    )
    want = eqx.filter_grad(loss)(cell, lambda c: reference_states(c, h0, xs))
    assert tree_max_abs_diff(got, want) < 1e-10


def test_solvers_are_modules_with_settings_as_fields():
    solver = paratime.DEER(
        rtol=1e-3, atol=1e-4, max_iters=7, recurrence=paratime.recurrences.Chunked(5)
    )
    assert (solver.rtol, solver.atol, solver.max_iters) == (1e-3, 1e-4, 7)
    assert solver.recurrence == paratime.recurrences.Chunked(5)
    assert isinstance(paratime.ELK(diagonal=True).adjoint, paratime.IterativeAdjoint)
    assert isinstance(paratime.ELK().adjoint, paratime.ImplicitAdjoint)
    assert isinstance(paratime.QuasiDEER().adjoint, paratime.IterativeAdjoint)
    assert isinstance(paratime.DEER().adjoint, paratime.ImplicitAdjoint)
    assert isinstance(paratime.Sequential().adjoint, paratime.AutodiffAdjoint)
    custom = paratime.DEER(adjoint=paratime.IterativeAdjoint())
    assert isinstance(custom.adjoint, paratime.IterativeAdjoint)
    # `adjoint=None` is the solver's default.
    assert paratime.DEER(adjoint=None) == paratime.DEER()
    assert paratime.Parareal(4, adjoint=None) == paratime.Parareal(4)
    for s in (paratime.DEER(), paratime.QuasiDEER(), paratime.ELK(), paratime.Sequential()):
        assert isinstance(s, paratime.AbstractSolver)
        assert hash(s) == hash(type(s)())  # usable as a static jit argument


class _Blocked(paratime.QuasiDEER):
    """QuasiDEER whose evaluation pass runs in blocks of `block` steps at any T and backend."""

    block: int | None = None

    def _eval_block(self, structure, T):
        return self.block


class _BlockedDEER(paratime.DEER):
    block: int | None = None

    def _eval_block(self, structure, T):
        return self.block


@pytest.mark.parametrize("cls, block", [(_Blocked, 7), (_BlockedDEER, 5)])
def test_blocked_evaluation_equals_unblocked(cls, block):
    """Blocks read in place from the trajectory (dividing T or overlapping at the end) give the
    same iterates as evaluating all steps at once, with a PyTree state."""
    cell, h0, xs = make_problem("lstm", length=20)
    blocked = paratime.unroll(cell, h0, xs, solver=cls(block=block))
    whole = paratime.unroll(cell, h0, xs, solver=cls(block=None))
    assert blocked.result == whole.result == paratime.RESULTS.successful
    assert int(blocked.num_steps) == int(whole.num_steps) > 1
    assert tree_max_abs_diff(blocked.states, whole.states) < 1e-13
    assert tree_max_abs_diff(blocked.states, reference_states(cell, h0, xs)) < 1e-10


def test_blocked_evaluation_batched_and_chunked():
    """Under vmap, and in chunks of 8, 8 and 4 steps with blocks of 6 (a chunk shorter than a
    block is evaluated as one block)."""
    cell, h0, xs = make_problem("gru", length=20)
    xb = jnp.stack([xs, -xs])
    solver = _Blocked(block=6, recurrence=paratime.recurrences.Chunked(8))
    got = jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver).states)(xb)
    want = jax.vmap(lambda x: reference_states(cell, h0, x))(xb)
    assert tree_max_abs_diff(got, want) < 1e-10


def test_blocked_evaluation_reports_nonfinite_iterates():
    cell, h0, xs = make_problem("gru", length=20)
    xs = xs.at[13].set(jnp.nan)
    sol = paratime.unroll(cell, h0, xs, solver=_Blocked(block=6), throw=False)
    assert sol.result == paratime.RESULTS.nonfinite


def test_quasideer_working_memory_on_cpu():
    """QuasiDEER keeps the states, the Jacobian diagonals and b: ≤ 16 bytes·T·N in float32
    (compiled, not run; issue 3 asks for about 20)."""
    T, N = 100_000, 16
    cell = paratime.cells.GRU(4, N, key=jax.random.key(0), dtype=jnp.float32)
    h0 = jnp.zeros(N, jnp.float32)
    xs = jax.ShapeDtypeStruct((T, 4), jnp.float32)
    run = jax.jit(lambda c, h, x: paratime.unroll(c, h, x, solver=paratime.QuasiDEER()).states)
    mem = run.lower(cell, h0, xs).compile().memory_analysis()
    working = mem.output_size_in_bytes + mem.temp_size_in_bytes
    assert working <= 16 * T * N


def test_deer_working_memory_with_a_diagonal_cell_on_cpu():
    """DEER with a cell whose exact Jacobian is diagonal evaluates in blocks read in place,
    as QuasiDEER does: ≤ 16 bytes·T·N in float32 (all steps at once took ~41)."""
    if jax.default_backend() != "cpu":
        pytest.skip("the blocked evaluation pass is the CPU's")
    T, N = 100_000, 16
    cell = paratime.cells.DiagonalGRU(4, N, num_heads=2, key=jax.random.key(0), dtype=jnp.float32)
    assert cell.jacobian_structure == paratime.structures.Diagonal()
    h0 = jnp.zeros(N, jnp.float32)
    xs = jax.ShapeDtypeStruct((T, 4), jnp.float32)
    run = jax.jit(lambda c, h, x: paratime.unroll(c, h, x, solver=paratime.DEER()).states)
    mem = run.lower(cell, h0, xs).compile().memory_analysis()
    working = mem.output_size_in_bytes + mem.temp_size_in_bytes
    assert working <= 16 * T * N


# Moved from test_bench.py: the CPU fast paths the benchmarks measured.
@pytest.mark.parametrize("kind", ["dense", "diagonal"])
def test_implicit_sequential_gradient_is_bptt(kind, getkey):
    cell = paratime.cells.GRU(3, 6, key=getkey())
    h0, xs = jnp.zeros(6), jax.random.normal(getkey(), (100, 3))

    def loss(cell, solver):
        return jnp.mean(paratime.unroll(cell, h0, xs, solver=solver).states ** 2) * 1e-3

    ref = eqx.filter_grad(loss)(cell, paratime.Sequential())
    got = eqx.filter_grad(loss)(cell, IMPLICIT_SEQUENTIAL[kind])
    scale = max(float(jnp.max(jnp.abs(x))) for x in jax.tree_util.tree_leaves(ref))
    assert tree_max_abs_diff(got, ref) <= 1e-9 * scale  # relative, even for a tiny loss


@pytest.mark.parametrize("hidden, implicit", [(50, True), (200, False)])
def test_auto_weighs_the_cost_of_the_jacobian(hidden, implicit, getkey):
    # The DSR training step (batch 16): the adjoint's per-step Jacobian of a shallow PLRNN
    # costs ~M·H·M; at H = 200 backpropagation through the scan is faster (measured).
    from paratime import dsr
    from paratime._engine._solver._auto import JACOBIAN_MAX_FLOPS

    model = dsr.build_model("shplrnn", 5, latent=5, hidden=hidden, key=getkey())
    cell = dsr.GTFCell(model.cell, jnp.asarray(0.1), model.observation.projector())
    h, x = jnp.zeros(5), jnp.zeros(5)
    costs = cell.costs(h, x)
    assert costs is not None and (costs.jacobian_flops <= JACOBIAN_MAX_FLOPS) == implicit
    solver = paratime.Auto().select(cell, 199, 5, batch=16, h0=h, x=x)
    assert solver == (IMPLICIT_SEQUENTIAL["dense"] if implicit else paratime.Sequential())
    # Without `h0` and `x` the rule counts at the cell's own `expected_shapes()`: same choice.
    assert paratime.Auto().select(cell, 199, 5, batch=16) == solver


def test_auto_on_cpu_uses_the_implicit_adjoint(getkey):
    gru = paratime.cells.GRU(3, 16, key=getkey())
    assert paratime.Auto().select(gru, 1000, 16) == IMPLICIT_SEQUENTIAL["dense"]
    assert paratime.Auto().select(gru, 1000, 64) == paratime.Sequential()  # measured crossover
    assert paratime.Auto().select(gru, 10**7, 16) == paratime.Sequential()  # T·N² too large
    assert paratime.Auto().select(lambda h, x: h, 1000, 16) == paratime.Sequential()


@pytest.mark.parametrize(
    "solver",
    [
        paratime.Sequential(adjoint=paratime.ImplicitAdjoint()),
        paratime.Sequential(adjoint=paratime.IterativeAdjoint()),
        paratime.DEER(adjoint=paratime.IterativeAdjoint()),
        paratime.QuasiDEER(adjoint=paratime.ImplicitAdjoint()),
        paratime.QuasiDEER(
            structure=paratime.structures.BlockDiagonal(3),  # N = 3: one block
            adjoint=paratime.IterativeAdjoint(paratime.structures.Diagonal()),
        ),
    ],
    ids=[
        "seq-implicit",
        "seq-iterative",
        "deer-iterative",
        "qd-implicit",
        "qd-block-diag-adjoint",
    ],
)
def test_adjoint_is_a_field(solver):
    """Any solver with any adjoint gives the exact gradient."""
    cell, h0, xs = make_problem("gru")
    loss = lambda c, fn: jnp.sum(fn(c) ** 3)  # noqa: E731
    got = eqx.filter_grad(loss)(cell, lambda c: paratime.unroll(c, h0, xs, solver=solver).states)
    want = eqx.filter_grad(loss)(cell, lambda c: reference_states(c, h0, xs))
    assert tree_max_abs_diff(got, want) < 1e-9


@pytest.mark.parametrize(
    "solver",
    [
        paratime.DEER(recurrence=paratime.recurrences.Associative()),
        paratime.DEER(recurrence=paratime.recurrences.Chunked(6)),
        paratime.QuasiDEER(
            recurrence=paratime.recurrences.Chunked(8, inner=paratime.recurrences.Associative())
        ),
    ],
)
def test_newton_with_a_recurrence_strategy(solver):
    """The strategy is a field: any of them gives the sequential trajectory and gradient."""
    cell, h0, xs = make_problem("gru", length=20)

    def loss(xs, solver):
        return jnp.sum(paratime.unroll(cell, h0, xs, solver=solver).states ** 2)

    got = paratime.unroll(cell, h0, xs, solver=solver)
    assert got.result == paratime.RESULTS.successful
    assert tree_max_abs_diff(got.states, reference_states(cell, h0, xs)) < 1e-10
    want = jax.grad(loss)(xs, paratime.Sequential())
    assert tree_max_abs_diff(jax.grad(loss)(xs, solver), want) < 1e-9
    with pytest.raises(TypeError, match="recurrence"):
        paratime.QuasiDEER(recurrence="sharded")
