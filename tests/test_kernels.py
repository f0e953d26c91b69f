"""The Pallas kernels (`recurrences.Pallas`, interpret mode on the CPU) solve linear
recurrences as the XLA path (`Associative`) does, forward and reverse, in both designs (one
pass; chunks with a carry scan), for diagonal, complex and block-diagonal transitions, in
float64, float32 and bfloat16; and their gradients (through `linear_recurrence`) agree too."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import paratime
from paratime._engine._kernels._driver import MIN_CHUNK, TARGET_PROGRAMS, plan
from paratime.recurrences import Associative, Pallas
from paratime.structures import BlockDiagonal, Dense, Diagonal

TOL = {"float64": 1e-12, "float32": 2e-5, "bfloat16": 0.0}


def _problem(key, structure, T, N, dtype, complex_=False):
    ka, kb, kh = jax.random.split(key, 3)
    shape = (T,) + structure.shape(N)
    # Transitions of size below one keep the states O(1) over long sequences.
    a = jax.random.uniform(ka, shape, minval=-0.9, maxval=0.9) / getattr(structure, "k", 1)
    b = jax.random.normal(kb, (T, N))
    h0 = jax.random.normal(kh, (N,))
    if complex_:
        a = a * jnp.exp(1j * b[..., :1])
        b, h0 = b + 0.5j * b[::-1], h0 - 0.25j
    return a.astype(dtype), b.astype(dtype), h0.astype(dtype)


@settings(max_examples=4, deadline=None)
@given(
    T=st.integers(1, 40),
    N=st.sampled_from([1, 2, 6]),
    kind=st.sampled_from(["diagonal", "block2", "block3", "complex"]),
    dtype=st.sampled_from(["float64", "float32", "bfloat16"]),
    chunk=st.sampled_from([None, 7, 16]),
    reverse=st.booleans(),
)
# (Always: bfloat16 blocks in chunks, complex float64 in one pass; the rest is drawn.)
@example(T=23, N=2, kind="block2", dtype="bfloat16", chunk=7, reverse=True)
@example(T=9, N=6, kind="complex", dtype="float64", chunk=None, reverse=False)
def test_kernel_equals_associative(T, N, kind, dtype, chunk, reverse):
    structure = {"block2": BlockDiagonal(2), "block3": BlockDiagonal(3)}.get(kind, Diagonal())
    N = N * getattr(structure, "k", 1)
    complex_ = kind == "complex"
    if complex_ and dtype == "bfloat16":
        dtype = "float32"
    cdtype = {"float64": jnp.complex128, "float32": jnp.complex64}[dtype] if complex_ else dtype
    a, b, h0 = _problem(jax.random.key(T * 100 + N), structure, T, N, cdtype, complex_)
    got = Pallas(chunk=chunk).solve(structure, a, b, h0, reverse)
    assert got.dtype == b.dtype and got.shape == (T, N)
    if dtype == "bfloat16":
        # float32 accumulation: the float32 solve of the same inputs, rounded once.
        want = Associative().solve(structure, *(x.astype(jnp.float32) for x in (a, b, h0)), reverse)
        np.testing.assert_allclose(
            np.asarray(got, np.float32),
            np.asarray(want.astype(jnp.bfloat16), np.float32),
            rtol=1e-2,
            atol=1e-2,
        )
        return
    want = Associative().solve(structure, a, b, h0, reverse)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize(
    "structure, reverse",
    [(Diagonal(), True), (BlockDiagonal(2), False)],
    ids=["diagonal", "block2"],
)
def test_gradients_equal_associative(structure, reverse):
    # (The gradient runs the kernels in the other direction too: the adjoint recurrence.)
    a, b, h0 = _problem(jax.random.key(3), structure, 19, 4, jnp.float64)
    weights = jnp.cos(jnp.arange(19 * 4.0)).reshape(19, 4)

    def loss(recurrence):
        def f(a, b, h0):
            h = paratime.linear_recurrence(
                a, b, h0, reverse=reverse, structure=structure, recurrence=recurrence
            )
            return jnp.sum(weights * h**2)

        return jax.grad(f, argnums=(0, 1, 2))

    want = loss(Associative())(a, b, h0)
    got = loss(Pallas(chunk=5))(a, b, h0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


def test_vmap_equals_associative():
    a, b, h0 = _problem(jax.random.key(4), Diagonal(), 13, 3, jnp.float64)
    ab = jnp.stack([a, 0.5 * a]), jnp.stack([b, -b])
    solve = lambda rec: jax.vmap(lambda a, b: rec.solve(Diagonal(), a, b, h0, False))  # noqa: E731
    np.testing.assert_allclose(solve(Pallas(chunk=4))(*ab), solve(Associative())(*ab), rtol=1e-12)


def test_dense_falls_back_to_the_associative_scan():
    a, b, h0 = _problem(jax.random.key(5), Dense(), 6, 3, jnp.float64)
    np.testing.assert_allclose(
        Pallas().solve(Dense(), a, b, h0, False), Associative().solve(Dense(), a, b, h0, False)
    )


def test_the_design_follows_the_shape():
    # Many channels: one pass (the chunk is the whole sequence).
    assert plan(100_000, 256, batch=TARGET_PROGRAMS) == (128, 100_000)
    # Few channels, long sequences: chunks of at least MIN_CHUNK steps, about
    # TARGET_PROGRAMS programs in all.
    block, chunk = plan(100_000, 256, batch=16)
    assert block == 128 and MIN_CHUNK <= chunk < 100_000
    assert 16 * 2 * -(-100_000 // chunk) >= TARGET_PROGRAMS
    # Short sequences: one pass whatever the channels.
    assert plan(2 * MIN_CHUNK - 1, 4) == (4, 2 * MIN_CHUNK - 1)
    # Blocks are powers of two (Triton's tiles), at most 128 channels.
    assert plan(10, 6)[0] == 8 and plan(10, 1000)[0] == 128
    assert plan(50, 8, chunk=7) == (8, 7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"chunk": 0}, "`chunk`"),
        ({"block": 48}, "`block` must be a power of two"),
        ({"block": True}, "`block`"),
        ({"interpret": "yes"}, "`interpret`"),
    ],
)
def test_bad_settings_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Pallas(**kwargs)
