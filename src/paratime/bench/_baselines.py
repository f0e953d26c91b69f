"""Baselines measured next to paratime's solvers: `lax.scan`, a straightforward DEER, cuDNN."""

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, PyTree


def scan_baseline(cell: Callable, h0: PyTree[Array], xs: Array) -> PyTree[Array]:
    """The states h_1..h_T by a plain `lax.scan` of `cell` (no paratime machinery)."""

    def step(h, x):
        h = cell(h, x)
        return h, h

    return lax.scan(step, h0, xs)[1]


def naive_deer(
    cell: Callable,
    h0: PyTree[Array],
    xs: Array,
    *,
    tol: float | None = None,
    max_iters: int = 100,
) -> tuple[PyTree[Array], Array]:
    """DEER written the straightforward way, as a baseline for paratime's engineering.

    Newton on the whole trajectory: Jacobians by `vmap(jacfwd(cell))`, the linearised
    recurrence by `lax.associative_scan` over (N×N matrix, vector) pairs, and a `while_loop`
    until max|s_t − f(s_{t−1}, x_t)| ≤ `tol` (default eps^(3/4) of the dtype, as paratime).
    No analytic Jacobians, no fusing, no backend-specific scan.

    **Arguments:**

    - `cell`: `(h, x) -> h_next`.
    - `h0`: the initial state (any PyTree; flattened internally).
    - `xs`: the inputs, leading axis T.
    - `tol`, `max_iters`: stopping rule.

    **Returns:**

    `(states, iterations)`, the states with a leading T axis like `h0`.
    """
    flat0, unravel = ravel_pytree(h0)
    tol = float(jnp.finfo(flat0.dtype).eps) ** 0.75 if tol is None else tol
    T = jax.tree_util.tree_leaves(xs)[0].shape[0]

    def f(h, x):
        return ravel_pytree(cell(unravel(h), x))[0]

    jac_fn = jax.vmap(jax.jacfwd(f))
    f_all = jax.vmap(f)

    def combine(e1, e2):
        a1, b1 = e1
        a2, b2 = e2
        return a2 @ a1, jnp.einsum("...ij,...j->...i", a2, b1) + b2

    def residual(s):
        prev = jnp.concatenate([flat0[None], s[:-1]])
        return prev, jnp.max(jnp.abs(s - f_all(prev, xs)))

    def body(carry):
        k, s, _ = carry
        prev, _ = residual(s)
        jac = jac_fn(prev, xs)
        b = f_all(prev, xs) - jnp.einsum("tij,tj->ti", jac, prev)
        b = b.at[0].add(jac[0] @ flat0)
        _, s = lax.associative_scan(combine, (jac, b))
        return k + 1, s, residual(s)[1]

    def cond(carry):
        k, _, err = carry
        return (k < max_iters) & (err > tol)

    s0 = jnp.zeros((T, flat0.size), flat0.dtype)
    k, s, _ = lax.while_loop(cond, body, (jnp.array(0), s0, residual(s0)[1]))
    return jax.vmap(unravel)(s), k


def torch_cudnn_available() -> bool:
    """True when PyTorch is importable and sees a CUDA GPU (so cuDNN RNNs can be timed)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def time_torch_rnn(
    cell_name: str, N: int, D: int, T: int, batch: int, workload: str, repeats: int
) -> dict[str, Any]:
    """Time `torch.nn.GRU`/`nn.LSTM` (cuDNN) on the GPU with the same shapes, float32.

    `workload` is `"forward"` or `"train"` (loss = mean of squares of the outputs, plus the
    gradient w.r.t. the parameters). Returns times in seconds (median/min/max over `repeats`
    runs after one warm-up, synchronised with `torch.cuda.synchronize`) and peak memory.
    """
    import torch

    cls = {"GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM, "Elman": torch.nn.RNN}[cell_name]
    dev = torch.device("cuda")
    rnn = cls(D, N, batch_first=False).to(dev)
    x = torch.randn(T, batch, D, device=dev)

    def run():
        if workload == "forward":
            with torch.no_grad():
                out, _ = rnn(x)
        else:
            rnn.zero_grad(set_to_none=True)
            out, _ = rnn(x)
            (out**2).mean().backward()
        return out

    run()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "median_s": times[len(times) // 2],
        "min_s": times[0],
        "max_s": times[-1],
        "times_s": times,
        "peak_bytes": int(torch.cuda.max_memory_allocated()),
        "torch_version": torch.__version__,
    }
