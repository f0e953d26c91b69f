"""`paratime.linear_recurrence` against a naive Python loop, and its gradients."""

import functools as ft

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from helpers import linear_recurrences, scan_reference
from paratime.recurrences import Associative, Chunked, Scan

INNER = [Associative(), Scan(), None]
solve = jax.jit(paratime.linear_recurrence, static_argnames=("reverse", "recurrence"))


def naive(a, b, h0, *, reverse=False):
    """h_t = a_t h_{t-1} + b_t (or h_t = a_t h_{t+1} + b_t) by a plain Python loop in NumPy."""
    a, b, h = np.asarray(a), np.asarray(b), np.asarray(h0)
    T, N = b.shape
    out = np.zeros(b.shape, np.result_type(a, b, h))
    for t in reversed(range(T)) if reverse else range(T):
        if a.ndim == 2:
            h = a[t] * h + b[t]
        elif a.ndim == 3:
            h = a[t] @ h + b[t]
        else:
            K, B = a.shape[1], a.shape[2]
            h = np.einsum("kij,kj->ki", a[t], h.reshape(K, B)).reshape(N) + b[t]
        out[t] = h
    return out


@st.composite
def problems(draw):
    """A random (a, b, h0) of any structure, real or complex, with its options."""
    a, b, h0 = draw(linear_recurrences())
    T = b.shape[0]
    chunk = draw(st.one_of(st.none(), st.integers(1, T + 1)))
    inner = draw(st.sampled_from(INNER))
    recurrence = inner if chunk is None else Chunked(chunk, inner=inner)
    return a, b, h0, draw(st.booleans()), recurrence


@settings(max_examples=20, deadline=None)
@given(problems())
def test_matches_naive_loop(problem):
    a, b, h0, reverse, recurrence = problem
    got = solve(a, b, h0, reverse=reverse, recurrence=recurrence)
    want = naive(a, b, h0, reverse=reverse)
    assert got.shape == want.shape
    assert jnp.iscomplexobj(got) == np.iscomplexobj(want)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("structure", ["diagonal", "dense", "block"])
@pytest.mark.parametrize("reverse", [False, True])
def test_chunked_equals_unchunked_and_sequential(structure, reverse, getkey):
    T, N = 23, 4
    shape = {"diagonal": (T, N), "dense": (T, N, N), "block": (T, 2, 2, 2)}[structure]
    a = 0.5 * jax.random.normal(getkey(), shape)
    b, h0 = jax.random.normal(getkey(), (T, N)), jax.random.normal(getkey(), (N,))
    full = solve(a, b, h0, reverse=reverse, recurrence=Associative())
    seq = scan_reference(a, b, h0, reverse=reverse)
    np.testing.assert_allclose(full, seq, rtol=1e-12, atol=1e-12)
    for size in (1, 5):
        chunked = solve(a, b, h0, reverse=reverse, recurrence=Chunked(size, inner=Associative()))
        np.testing.assert_allclose(chunked, full, rtol=1e-12, atol=1e-12)


def test_long_diagonal_sequence():
    T, N = 100_000, 3
    t = jnp.arange(T)[:, None]
    a = 0.999 * jnp.cos(0.001 * t * jnp.arange(1, N + 1))
    b = jnp.sin(0.01 * t + jnp.arange(N))
    h0 = jnp.ones(N)
    got = jax.jit(ft.partial(paratime.linear_recurrence, recurrence=Associative()))(a, b, h0)
    want = jax.jit(scan_reference)(a, b, h0)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_complex_diagonal_rotation():
    """A pure rotation e^{iω} has a closed form: h_t = e^{iωt} h_0."""
    T, omega = 64, jnp.array([0.3, -1.1])
    a = jnp.broadcast_to(jnp.exp(1j * omega), (T, 2))
    h = paratime.linear_recurrence(a, jnp.zeros((T, 2), complex), jnp.ones(2, complex))
    t = jnp.arange(1, T + 1)[:, None]
    np.testing.assert_allclose(h, jnp.exp(1j * omega * t), rtol=1e-12, atol=1e-12)


def test_is_log_depth_without_sequential_loop():
    """`Associative()` is an associative scan: no `scan`/`while` in the program."""
    a, b, h0 = jnp.ones((64, 3, 3)), jnp.ones((64, 3)), jnp.ones(3)
    solve = ft.partial(paratime.linear_recurrence, recurrence=Associative())
    jaxpr = str(jax.make_jaxpr(solve)(a, b, h0))
    assert "scan[" not in jaxpr and "while[" not in jaxpr
    chunked = ft.partial(paratime.linear_recurrence, recurrence=Chunked(8, inner=Associative()))
    assert "scan[" in str(jax.make_jaxpr(chunked)(a, b, h0))
    # ... and its gradient is a reverse linear recurrence, also without a sequential loop.
    grad = jax.grad(lambda a, b, h0: jnp.sum(solve(a, b, h0)), argnums=(0, 1, 2))
    jaxpr = str(jax.make_jaxpr(grad)(a, b, h0))
    assert "scan[" not in jaxpr and "while[" not in jaxpr


def test_empty_sequence():
    out = paratime.linear_recurrence(jnp.ones((0, 2)), jnp.ones((0, 2)), jnp.ones(2))
    assert out.shape == (0, 2)


def test_dtype_promotion():
    a = jnp.ones((3, 2), jnp.float32)
    b = jnp.ones((3, 2), jnp.float32)
    h0 = jnp.ones(2, jnp.complex64)
    assert paratime.linear_recurrence(a, b, h0).dtype == jnp.complex64
    assert paratime.linear_recurrence(a, b, h0, recurrence=Associative()).dtype == jnp.complex64
    assert paratime.linear_recurrence(a, b, h0.real).dtype == jnp.float32


GRADIENT_CASES = [
    (structure, reverse, Associative())
    for structure in ("diagonal", "dense", "block")
    for reverse in (False, True)
] + [
    ("diagonal", True, Chunked(3, inner=Associative())),
    ("dense", False, Chunked(3, inner=Associative())),
    ("block", True, Scan()),
]


@pytest.mark.parametrize("structure,reverse,recurrence", GRADIENT_CASES)
def test_gradient_matches_sequential(structure, reverse, recurrence, getkey):
    T, N = 7, 4
    shape = {"diagonal": (T, N), "dense": (T, N, N), "block": (T, 2, 2, 2)}[structure]
    a = 0.5 * jax.random.normal(getkey(), shape)
    b, h0 = jax.random.normal(getkey(), (T, N)), jax.random.normal(getkey(), (N,))
    w = jax.random.normal(getkey(), (T, N))

    def loss(fn):
        return lambda a, b, h0: jnp.sum(w * jnp.sin(fn(a, b, h0)))

    def par(a, b, h0):
        return paratime.linear_recurrence(a, b, h0, reverse=reverse, recurrence=recurrence)

    def seq(a, b, h0):
        return scan_reference(a, b, h0, reverse=reverse)

    got = jax.jit(jax.grad(loss(par), argnums=(0, 1, 2)))(a, b, h0)
    want = jax.jit(jax.grad(loss(seq), argnums=(0, 1, 2)))(a, b, h0)
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, v, rtol=1e-10, atol=1e-12)


def test_complex_vjp_matches_sequential(getkey):
    T, N = 6, 3

    def cplx(shape):
        return jax.random.normal(getkey(), shape) + 1j * jax.random.normal(getkey(), shape)

    a, b, h0, ct = 0.7 * cplx((T, N)), cplx((T, N)), cplx((N,)), cplx((T, N))

    def vjp(fn):
        return jax.jit(lambda *args: jax.vjp(fn, *args)[1](ct))

    par = vjp(ft.partial(paratime.linear_recurrence, recurrence=Associative()))(a, b, h0)
    for g, v in zip(par, vjp(scan_reference)(a, b, h0)):
        np.testing.assert_allclose(g, v, rtol=1e-10, atol=1e-12)


def test_jit_and_vmap(getkey):
    B, T, N = 3, 9, 2
    a = 0.9 * jax.random.uniform(getkey(), (B, T, N))
    b, h0 = jax.random.normal(getkey(), (B, T, N)), jax.random.normal(getkey(), (B, N))
    solve = ft.partial(paratime.linear_recurrence, recurrence=Associative())
    got = jax.jit(jax.vmap(solve))(a, b, h0)
    for i in range(B):
        np.testing.assert_allclose(got[i], naive(a[i], b[i], h0[i]), rtol=1e-12, atol=1e-12)


# Moved from test_bench.py.
@pytest.mark.parametrize(
    "structure,recurrence",
    [(s, r) for s in ("diagonal", "dense", "block") for r in (Associative(), Scan())],
)
def test_linear_recurrence_derivatives(structure, recurrence, getkey):
    """Implicit (custom_linear_solve) derivatives equal autodiff through a plain scan."""
    from helpers import tree_max_abs_diff

    reverse = structure != "dense"
    T, N = 9, 4
    shape = {"diagonal": (T, N), "dense": (T, N, N), "block": (T, 2, 2, 2)}[structure]
    cplx = lambda s: jax.random.normal(getkey(), s) + 1j * jax.random.normal(getkey(), s)  # noqa: E731
    a, b, h0, w = 0.5 * cplx(shape), cplx((T, N)), cplx((N,)), cplx((T, N))
    run = lambda f: lambda a, b, h0: f(a, b, h0, reverse=reverse)  # noqa: E731
    ours = run(lambda *x, **k: paratime.linear_recurrence(*x, **k, recurrence=recurrence))
    ref = run(scan_reference)
    loss = lambda f: lambda *x: jnp.sum(jnp.abs(w * f(*x)) ** 2)  # noqa: E731
    g1 = jax.grad(loss(ours), argnums=(0, 1, 2))(a, b, h0)
    g2 = jax.grad(loss(ref), argnums=(0, 1, 2))(a, b, h0)
    assert tree_max_abs_diff(g1, g2) < 1e-10
    tangents = (cplx(shape), cplx((T, N)), cplx((N,)))
    t1 = jax.jvp(ours, (a, b, h0), tangents)[1]
    t2 = jax.jvp(ref, (a, b, h0), tangents)[1]
    assert tree_max_abs_diff(t1, t2) < 1e-10


@settings(max_examples=15, deadline=None)
@given(
    problem=linear_recurrences(),
    reverse=st.booleans(),
    size=st.integers(1, 9),
    which=st.integers(0, 3),
)
def test_every_recurrence_strategy_matches_the_loop(problem, reverse, size, which):
    """`recurrence=` Associative, Scan, Chunked (with either inner strategy) solve the same
    recurrence as the loop, in any structure and direction, with the same gradient."""
    R = paratime.recurrences
    strategy = [
        R.Associative(),
        R.Scan(),
        R.Chunked(size),
        R.Chunked(size, inner=R.Associative()),
    ][which]
    a, b, h0 = problem
    got = paratime.linear_recurrence(a, b, h0, reverse=reverse, recurrence=strategy)
    np.testing.assert_allclose(got, naive(a, b, h0, reverse=reverse), rtol=1e-9, atol=1e-9)

    def loss(b, recurrence):
        h = paratime.linear_recurrence(a, b, h0, reverse=reverse, recurrence=recurrence)
        return jnp.sum(jnp.abs(h) ** 2)

    np.testing.assert_allclose(
        jax.grad(loss)(b, strategy), jax.grad(loss)(b, R.Scan()), rtol=1e-9, atol=1e-9
    )


def test_recurrence_strategy_misuse():
    R = paratime.recurrences
    a, b, h0 = jnp.full((6, 2), 0.5), jnp.ones((6, 2)), jnp.zeros(2)
    with pytest.raises(TypeError, match="recurrence"):
        paratime.linear_recurrence(a, b, h0, recurrence="associative")
    with pytest.raises(TypeError, match="chunk_size"):  # one spelling: `recurrence=`
        paratime.linear_recurrence(a, b, h0, chunk_size=2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="size"):
        R.Chunked(0)
    with pytest.raises(ValueError, match="inner"):
        R.Chunked(4, inner=R.Chunked(2))
    assert R.Chunked(4) == R.Chunked(4) and hash(R.Chunked(4)) == hash(R.Chunked(4))
