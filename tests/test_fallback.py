"""The failure policy (`fallback=`): exact answers and gradients after a failed parallel
solve, only the failed sequences of a batch replaced, and, in the compiled program, the
re-solve behind a condition that is not batched (CPU and the CUDA lowering)."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from helpers import tree_max_abs_diff

T, N, D, B = 24, 4, 2, 3


def mixed_batch():
    """A batch whose middle sequence makes DEER fail while the others converge: the Elman
    cell with recurrent weights of spectral radius ≈ 3 diverges from a cold start on small
    inputs (near 0 it expands) and converges on large ones (tanh saturates)."""
    cell = paratime.cells.Elman(D, N, key=jax.random.key(0), weight_scale=3.0)
    xs = 5.0 * jax.random.normal(jax.random.key(1), (B, T, D))
    xs = xs.at[1].multiply(0.01)
    return cell, jnp.zeros(N), xs


def batched(solver, fallback):
    def run(cell, h0, xs):
        one = lambda x: paratime.unroll(cell, h0, x, solver=solver, fallback=fallback, throw=False)
        return jax.vmap(one)(xs)

    return run


def reference(cell, h0, xs):
    return jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=paratime.Sequential()).states)(xs)


def test_the_setup_has_one_failing_member():
    cell, h0, xs = mixed_batch()
    sol = batched(paratime.DEER(max_iters=30), None)(cell, h0, xs)
    ok = np.asarray(sol.result._value) == 0
    assert list(ok) == [True, False, True]


@pytest.mark.parametrize("fallback", ["sequential", "elk"])
def test_only_the_failed_member_is_replaced_and_the_answer_is_exact(fallback):
    cell, h0, xs = mixed_batch()
    solver = paratime.DEER(max_iters=30)
    sol = batched(solver, fallback)(cell, h0, xs)
    plain = batched(solver, None)(cell, h0, xs)
    assert list(np.asarray(sol.stats["fallback_used"])) == [False, True, False]
    assert np.all(np.asarray(sol.result._value) == 0)
    assert tree_max_abs_diff(sol.states, reference(cell, h0, xs)) < 1e-8
    # The members that converged keep DEER's own states, bit for bit.
    np.testing.assert_array_equal(sol.states[0], plain.states[0])
    np.testing.assert_array_equal(sol.states[2], plain.states[2])
    # Newton's own iterations and result code are kept for the log.
    np.testing.assert_array_equal(sol.stats["num_steps"], plain.stats["num_steps"])
    np.testing.assert_array_equal(sol.stats["newton_result"], plain.result._value)


@pytest.mark.parametrize("fallback", ["sequential", "elk"])
def test_the_gradient_after_a_fallback_is_exact(fallback):
    cell, h0, xs = mixed_batch()
    solver = paratime.DEER(max_iters=30)

    def loss(run):
        def f(cell):
            states = run(cell, h0, xs)
            return jnp.sum(jnp.sin(states.states if hasattr(states, "states") else states))

        return eqx.filter_grad(f)(cell)

    got = loss(batched(solver, fallback))
    want = loss(reference)
    assert tree_max_abs_diff(got, want) < 1e-8


def test_auto_falls_back_by_default_and_explicit_solvers_do_not():
    cell, h0, xs = mixed_batch()
    with pytest.raises(paratime.NewtonError):
        paratime.unroll(cell, h0, xs[1], solver=paratime.DEER(max_iters=30))
    # Chosen for a GPU, Auto picks DEER for a long sequence (run here on the CPU): it fails
    # on these inputs, and the default policy under Auto finishes it exactly.
    long = jnp.tile(xs[1], (100, 1))  # T = 2400
    with paratime.for_platform("gpu"):
        assert isinstance(paratime.Auto().select(cell, long.shape[0], N), paratime.DEER)
        sol = jax.jit(lambda x: paratime.unroll(cell, h0, x, solver=paratime.Auto()))(long)
    assert bool(sol.stats["fallback_used"])
    assert tree_max_abs_diff(sol.states, reference(cell, h0, long[None])[0]) < 1e-8
    layer = paratime.nn.RNN(cell, paratime.DEER(max_iters=30))
    assert layer.fallback == "sequential"  # the layers finish failed solves by default
    assert tree_max_abs_diff(layer(xs[1]), reference(cell, h0, xs[1:2])[0]) < 1e-8


@pytest.mark.parametrize("bad", ["scan", True, "Sequential"])
def test_a_bad_fallback_is_named(bad):
    cell, h0, xs = mixed_batch()
    with pytest.raises(ValueError, match="fallback"):
        paratime.unroll(cell, h0, xs[0], fallback=bad)
    with pytest.raises(ValueError, match="fallback"):
        paratime.nn.RNN(cell, fallback=bad)


# ---- the compiled program: the re-solve sits behind an unbatched condition -------------

_CALLS = re.compile(
    r"(?:to_apply|body|condition|calls|true_computation|false_computation)=%?([\w.\-]+)"
)
_BRANCHES = re.compile(r"branch_computations=\{([^}]*)\}")
_DEFINITION = re.compile(r"%?([\w.\-]+) = ([a-z0-9]+\[[^\]]*\])")
_CONDITIONAL = re.compile(r" conditional\(%?([\w.\-]+)")


def _computations(hlo: str) -> dict[str, str]:
    """HLO text → {computation name: its body}."""
    parts = re.split(r"\n(?=(?:ENTRY )?%?[\w.\-]+ [^\n]*\{\n)", hlo)
    out = {}
    for part in parts:
        head = part.split("\n", 1)[0]
        m = re.match(r"(?:ENTRY )?%?([\w.\-]+) ", head)
        if m and "{" in head:
            out[m.group(1)] = part
    return out


def _called(body: str) -> set[str]:
    names = set(_CALLS.findall(body))
    for group in _BRANCHES.findall(body):
        names |= {n.strip().lstrip("%") for n in group.split(",")}
    return names


def _loops_outside_conditionals(hlo: str) -> tuple[int, list[str]]:
    """The `while` loops reachable from the entry without passing a conditional's branch,
    and the predicate/index shapes of every conditional."""
    comps = _computations(hlo)
    entry = next(name for name, body in comps.items() if body.startswith("ENTRY"))
    seen, stack, loops = set(), [entry], 0
    while stack:
        name = stack.pop()
        if name in seen or name not in comps:
            continue
        seen.add(name)
        body = comps[name]
        loops += len(re.findall(r"\swhile\(", body))
        for line in body.split("\n"):
            if " conditional(" not in line:
                stack.extend(_called(line))
    shapes = dict(_DEFINITION.findall(hlo))
    predicates = [shapes.get(name, "?") for name in _CONDITIONAL.findall(hlo)]
    return loops, predicates


def _program(fallback, platform):
    cell, h0, xs = mixed_batch()
    run = batched(paratime.DEER(), fallback)
    f = lambda cell, h0, xs: run(cell, h0, xs).states  # noqa: E731
    with paratime.for_platform(platform):
        traced = jax.jit(f).trace(cell, h0, xs)
        if platform == "cpu":
            return traced.lower().compile().as_text()
        return traced.lower(lowering_platforms=(platform,)).as_text(dialect="hlo")


@pytest.mark.parametrize("platform", ["cpu", "cuda"])
def test_the_fallback_is_behind_an_unbatched_condition(platform):
    without, with_ = _program(None, platform), _program("sequential", platform)
    without_loops, without_preds = _loops_outside_conditionals(without)
    with_loops, with_preds = _loops_outside_conditionals(with_)
    # The fallback adds a loop (the re-solve's scan), and every loop it adds is inside a
    # conditional's branch...
    assert len(re.findall(r"\swhile\(", with_)) > len(re.findall(r"\swhile\(", without))
    assert with_loops == without_loops
    # ... and the fallback adds conditionals, all on a scalar predicate (not one per member).
    added = len(with_preds) - len(without_preds)
    assert added >= 1
    assert all(p in ("pred[]", "s32[]") for p in with_preds), with_preds
