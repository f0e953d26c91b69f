"""Every solver lowers for CUDA and TPU on a CPU-only machine (forward, gradient, batched,
sharded, `Auto` choosing for that platform), and the accelerator code paths (associative
scans, lockstep batching) agree with the CPU ones numerically."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from helpers import tree_allclose
from paratime.recurrences import Associative, Chunked, Scan, Sharded
from paratime.structures import BlockDiagonal, Diagonal

T, N, D, BATCH = 16, 4, 2, 3


def _mesh():
    return jax.make_mesh((2,), ("time",))


def _solvers():
    mesh = _mesh()
    return {
        "Sequential": paratime.Sequential(),
        "Sequential-implicit": paratime.Sequential(adjoint=paratime.ImplicitAdjoint()),
        "Sequential-iterative": paratime.Sequential(adjoint=paratime.IterativeAdjoint(Diagonal())),
        "DEER": paratime.DEER(),
        "DEER-chunked": paratime.DEER(recurrence=Chunked(5)),
        "QuasiDEER": paratime.QuasiDEER(),
        "QuasiDEER-block": paratime.QuasiDEER(structure=BlockDiagonal(2)),
        "ELK": paratime.ELK(max_iters=20),
        "ELK-diagonal": paratime.ELK(diagonal=True, max_iters=20),
        "ELK-scan": paratime.ELK(max_iters=20, recurrence=Scan()),
        "ELK-diagonal-associative": paratime.ELK(
            diagonal=True, max_iters=20, recurrence=Associative()
        ),
        "Parareal": paratime.Parareal(4),
        "Parareal-scan": paratime.Parareal(4, recurrence=Scan()),
        "Parareal-sharded": paratime.Parareal(4, recurrence=Sharded(mesh, "time")),
        "DEER-sharded": paratime.DEER(recurrence=Sharded(mesh, "time")),
        "QuasiDEER-sharded": paratime.QuasiDEER(recurrence=Sharded(mesh, "time")),
        "Auto": paratime.Auto(),
    }


SOLVERS = list(_solvers())


def _problem():
    cell = paratime.cells.GRU(D, N, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (T, D))
    return cell, jnp.zeros(N), xs


def _loss(solver):
    def loss(cell, h0, xs):
        return jnp.sum(paratime.unroll(cell, h0, xs, solver=solver, throw=False).states ** 2)

    return loss


def _programs(solver):
    loss = _loss(solver)

    def grad(cell, h0, xs):
        return eqx.filter_grad(loss)(cell, h0, xs)

    def batched(f):
        return lambda cell, h0, xs: jax.vmap(f, in_axes=(None, None, 0))(cell, h0, xs)

    return {
        "forward": loss,
        "gradient": grad,
        "batched-forward": batched(loss),
        "batched-gradient": batched(grad),
    }


@pytest.mark.parametrize("target", ["cuda", "tpu"])
@pytest.mark.parametrize("name", SOLVERS)
def test_lowers_for_accelerators(name, target):
    solver = _solvers()[name]
    cell, h0, xs = _problem()
    xb = jnp.stack([xs] * BATCH)
    for kind, f in _programs(solver).items():
        args = (cell, h0, xb if kind.startswith("batched") else xs)
        with paratime.for_platform(target):
            lowered = jax.jit(f).trace(*args).lower(lowering_platforms=(target,))
        text = lowered.as_text()
        assert "callback" not in text, (name, kind)  # nothing that needs the host


def test_auto_chooses_for_the_platform_it_lowers_for():
    cell = paratime.cells.GRU(D, 16, key=jax.random.key(0))
    with paratime.for_platform("cuda"):
        assert isinstance(paratime.Auto().select(cell, T=100_000, N=16), paratime.DEER)
    assert not isinstance(paratime.Auto().select(cell, T=100_000, N=16), paratime.DEER)
    with pytest.raises(ValueError, match="`name`"):
        with paratime.for_platform("metal"):
            pass


@pytest.mark.parametrize(
    "solver",
    [paratime.DEER(), paratime.QuasiDEER(), paratime.ELK(max_iters=50), paratime.Parareal(4)],
    ids=["DEER", "QuasiDEER", "ELK", "Parareal"],
)
def test_accelerator_paths_agree_with_cpu_paths(solver):
    """Traced for a GPU (associative scans, lockstep batching, all steps evaluated at once)
    but run on the CPU: the same states and gradients as the CPU program."""
    cell, h0, xs = _problem()
    xb = jnp.stack([xs, 0.5 * xs, -xs])
    programs = _programs(solver)
    for kind in ("forward", "batched-gradient"):
        args = (cell, h0, xb if kind.startswith("batched") else xs)
        cpu = jax.jit(programs[kind])(*args)
        with paratime.for_platform("gpu"):
            gpu = jax.jit(_programs(solver)[kind])(*args)
        assert tree_allclose(cpu, gpu, rtol=1e-8, atol=1e-10), kind
    # (and the two programs do differ; fresh functions: JAX caches a function's trace)
    cpu_jaxpr = str(jax.make_jaxpr(_programs(solver)["forward"])(cell, h0, xs))
    with paratime.for_platform("gpu"):
        gpu_jaxpr = str(jax.make_jaxpr(_programs(solver)["forward"])(cell, h0, xs))
    assert cpu_jaxpr != gpu_jaxpr
