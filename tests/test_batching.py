"""Batching: `Auto` sees the batch size of a `jax.vmap` around `unroll` and chooses by it;
loops and branches run a batch in lockstep."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from paratime._engine._batching import lockstep_cond, lockstep_while_loop, vmap_batch_size

IMPLICIT = paratime.Sequential(adjoint=paratime.ImplicitAdjoint())


def test_batch_size_of_nested_and_partial_vmaps():
    x = jnp.ones((2, 3, 5))
    y = jnp.ones(5)
    seen = []

    def record(*args):
        seen.append(vmap_batch_size(args))
        return sum(jnp.sum(a) for a in args)

    record(x[0, 0])
    jax.vmap(record)(x[0])
    jax.jit(jax.vmap(jax.vmap(record)))(x)
    jax.vmap(record, in_axes=(0, None))(x[0], y)  # one argument batched
    jax.vmap(jax.vmap(record, in_axes=(0, None)), in_axes=(None, 0))(x[0], jnp.ones((2, 5)))
    jax.grad(lambda x: jnp.sum(jax.vmap(record)(x)))(x[0])  # through reverse mode
    jax.vmap(jax.grad(record))(x[0])
    record(1.0)  # no arrays at all
    assert seen == [1, 3, 6, 3, 6, 3, 3, 1]


def test_vmap_outside_jit_is_not_seen():
    """`vmap(jit(f))` batches an already traced f: documented as invisible (size 1)."""
    seen = []

    @jax.jit
    def f(x):
        seen.append(vmap_batch_size(x))
        return x

    jax.vmap(f)(jnp.ones((4, 2)))
    assert seen == [1]


@pytest.mark.parametrize("batch", [1, 2, 16])
def test_unroll_passes_the_batch_to_auto(monkeypatch, batch):
    chosen = []
    select = paratime.Auto.select

    def spy(self, cell, T, N, backend=None, batch=1, **shapes):
        solver = select(self, cell, T, N, backend, batch, **shapes)
        chosen.append((batch, solver))
        return solver

    monkeypatch.setattr(paratime.Auto, "select", spy)
    cell = paratime.cells.GRU(2, 16, key=jax.random.key(0))
    xs = jnp.ones((batch, 50, 2))

    def states(x):
        return paratime.unroll(cell, jnp.zeros(16), x).states

    eqx.filter_jit(jax.vmap(states))(xs) if batch > 1 else states(xs[0])
    # batch·N² ≤ 512 Jacobian numbers per step: the implicit adjoint; beyond: BPTT.
    assert [b for b, _ in chosen] == [batch]
    if jax.default_backend() == "cpu":
        want = IMPLICIT if batch * 16**2 <= 512 else paratime.Sequential()
        assert chosen[0][1] == want


def test_auto_choice_by_batch_on_cpu():
    gru = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    select = paratime.Auto().select
    assert select(gru, 1000, 16, backend="cpu") == IMPLICIT
    assert select(gru, 1000, 16, backend="cpu", batch=2) == IMPLICIT
    assert select(gru, 1000, 16, backend="cpu", batch=16) == paratime.Sequential()
    assert select(gru, 1000, 4, backend="cpu", batch=16) == IMPLICIT
    assert select(gru, 10**6, 4, backend="cpu", batch=32) == paratime.Sequential()  # > 1 GiB
    # The GPU choice does not depend on the batch.
    assert select(gru, 10**5, 16, backend="gpu", batch=16) == paratime.DEER()
    # The Elman cell: the adjoint only while its Jacobians stay under 28 MB (measured).
    elman = paratime.cells.Elman(3, 16, key=jax.random.key(0))
    assert select(elman, 10**4, 16, backend="cpu") == IMPLICIT  # 10 MB
    assert select(elman, 3 * 10**4, 16, backend="cpu") == paratime.Sequential()  # 31 MB
    assert select(gru, 3 * 10**4, 16, backend="cpu") == IMPLICIT


def _doubling(limit, x):
    """x·2^limit by a loop of `limit` doublings, counting its steps."""

    def cond(ops, carry):
        return carry[0] < ops

    def body(ops, carry, active):
        k, v = carry
        return k + active, jnp.where(active, 2.0 * v, v)

    return lockstep_while_loop(cond, body, (jnp.array(0), x), limit)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=5))
def test_lockstep_loop_gives_each_member_its_own_result(limits):
    """Batched in lockstep, finished members keep their carry: the result of each is that of
    its own loop (also with a batched and an unbatched operand, and under two vmaps)."""
    limits = jnp.array(limits)
    x = jnp.arange(1.0, 3.0)
    k, v = jax.jit(jax.vmap(_doubling, in_axes=(0, None)))(limits, x)
    assert k.tolist() == limits.tolist()
    assert jnp.array_equal(v, x * 2.0 ** limits[:, None])
    k2, v2 = jax.vmap(jax.vmap(_doubling, in_axes=(None, 0)), in_axes=(0, None))(
        limits, jnp.stack([x, -x])
    )
    assert jnp.array_equal(k2, jnp.broadcast_to(limits[:, None], k2.shape))
    assert jnp.array_equal(v2[:, 1], -v2[:, 0])
    assert jnp.array_equal(v2[:, 0], v)


def test_lockstep_loop_runs_no_whole_carry_select():
    """The batched loop's predicate is one bool (not one per member), so XLA's while-loop
    batching adds no select over the carry."""
    jaxpr = jax.make_jaxpr(jax.vmap(_doubling, in_axes=(0, None)))(jnp.array([1, 3]), jnp.ones(2))
    text = str(jaxpr)
    assert "reduce_or" in text  # "any member still active"
    loops = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "custom_vmap_call"]
    assert loops


@pytest.mark.parametrize(
    "preds,false_runs", [([True, True], 0), ([True, False], 1), ([False] * 2, 1)]
)
def test_lockstep_cond_runs_the_other_branch_only_when_a_member_takes_it(preds, false_runs):
    calls = []

    def false_fun(ops):
        jax.debug.callback(lambda: calls.append(1))
        return ops[0] - 1.0

    def f(p, x):
        return lockstep_cond(p, lambda ops: 10.0 * ops[0], false_fun, (x,))

    preds = jnp.array(preds)
    x = jnp.ones((2, 3))
    got = jax.jit(jax.vmap(f))(preds, x)
    assert jnp.array_equal(got, jnp.where(preds[:, None], 10.0, 0.0) * x)
    assert len(calls) == false_runs  # once for the whole batch, or not at all


@pytest.fixture
def lockstep_on_cpu(monkeypatch):
    """Newton solves batched as on an accelerator (vmap in lockstep), also on a CPU."""
    from paratime._engine._solver import _newton

    monkeypatch.setattr(_newton, "one_at_a_time_on_cpu", lambda fun, *args: fun(*args))


@pytest.mark.parametrize(
    "lockstep,bound", [(False, 9), (True, 17)], ids=["one-at-a-time", "lockstep"]
)
def test_batched_quasideer_working_memory_on_cpu(lockstep, bound, request):
    """Per sequence, in float32. On a CPU the batch is solved one sequence after another: the
    output, the stacked states and one sequence's temporaries (8 bytes·T·N at batch 8, 5 at
    batch 16). Batched in lockstep (the
    accelerator path): the states, J and b of every sequence, and the output (16; a
    per-sequence while-loop stop made it 28). Compiled, not run."""
    if lockstep:
        request.getfixturevalue("lockstep_on_cpu")
    solver = paratime.QuasiDEER()
    T, N, B = 10_000, 16, 8
    cell = paratime.cells.GRU(4, N, key=jax.random.key(0), dtype=jnp.float32)
    h0 = jnp.zeros(N, jnp.float32)
    xs = jax.ShapeDtypeStruct((B, T, 4), jnp.float32)
    run = jax.jit(jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver).states))
    mem = run.lower(xs).compile().memory_analysis()
    assert mem.output_size_in_bytes + mem.temp_size_in_bytes <= bound * B * T * N


@pytest.mark.parametrize(
    "solver,lockstep",
    [(paratime.DEER(), False), (paratime.DEER(), True), (paratime.QuasiDEER(), True)],
    ids=["deer", "deer-lockstep", "quasideer-lockstep"],
)
def test_each_batched_sequence_is_solved_as_if_alone(solver, lockstep, request):
    """Sequences that need different numbers of iterations, batched: each gets the states,
    iterations and result of its own solve (in lockstep, finished ones are held fixed)."""
    if lockstep:
        request.getfixturevalue("lockstep_on_cpu")
    cell = paratime.cells.Elman(2, 4, key=jax.random.key(0), weight_scale=0.9)
    h0 = jnp.zeros(4)
    xs = (
        jax.random.normal(jax.random.key(1), (3, 60, 2))
        * jnp.array([0.01, 1.0, 4.0])[:, None, None]
    )

    def solve(x):
        sol = paratime.unroll(cell, h0, x, solver=solver, throw=False)
        return sol.states, sol.stats["num_steps"], sol.result._value

    states, steps, results = eqx.filter_jit(jax.vmap(solve))(xs)
    alone = [eqx.filter_jit(solve)(x) for x in xs]
    assert len({int(a[1]) for a in alone}) > 1  # the sequences do differ
    for i, (s, k, r) in enumerate(alone):
        assert jnp.allclose(
            states[i], s, rtol=1e-12, atol=1e-12
        )  # batched products may round differently
        assert int(steps[i]) == int(k) and int(results[i]) == int(r)
