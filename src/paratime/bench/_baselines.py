"""Baselines measured next to paratime's solvers: `lax.scan`, a straightforward DEER, and
PyTorch's RNNs (cuDNN on a GPU)."""

import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, PyTree

from ..cells._abstract import scan_cell


def scan_baseline(cell: Callable, h0: PyTree[Array], xs: Array) -> PyTree[Array]:
    """The states h_1..h_T by a plain `lax.scan` of `cell` (no paratime machinery)."""
    return scan_cell(cell, h0, xs)


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


def torch_device(backend: str) -> str | None:
    """The device on which PyTorch's RNNs are timed next to JAX's `backend`: `"cuda"` (cuDNN)
    when JAX runs on a GPU and PyTorch sees one, `"cpu"` when both run on the CPU, else `None`
    (PyTorch missing, or no match)."""
    try:
        import torch
    except ImportError:
        return None
    if backend == "gpu":
        return "cuda" if torch.cuda.is_available() else None
    return "cpu" if backend == "cpu" else None


def time_torch_rnn(
    cell_name: str,
    N: int,
    D: int,
    T: int,
    batch: int,
    workload: str,
    repeats: int,
    device: str = "cuda",
) -> dict[str, Any]:
    """Time `torch.nn.GRU`/`nn.LSTM` with the same shapes, float32: cuDNN on `device="cuda"`,
    PyTorch's own CPU kernels on `device="cpu"` (with as many threads as this process may use).

    `workload` is `"forward"` or `"train"` (loss = mean of squares of the outputs, plus the
    gradient w.r.t. the parameters). Returns times in seconds (median/min/max over `repeats`
    runs after one warm-up, synchronised with `torch.cuda.synchronize` on a GPU), the peak
    memory on a GPU, and the versions.
    """
    import torch

    if workload not in ("forward", "train"):
        raise ValueError(f"`workload` must be 'forward' or 'train'; got {workload!r}.")
    if device not in ("cuda", "cpu"):
        raise ValueError(f"`device` must be 'cuda' or 'cpu'; got {device!r}.")
    cuda = device == "cuda"
    if not cuda:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    cls = {"GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM, "Elman": torch.nn.RNN}[cell_name]
    rnn = cls(D, N, batch_first=False).to(device)
    x = torch.randn(T, batch, D, device=device)

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
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    times.sort()
    out: dict[str, Any] = {
        "median_s": times[len(times) // 2],
        "min_s": times[0],
        "max_s": times[-1],
        "times_s": times,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if cuda:
        out["peak_bytes"] = int(torch.cuda.max_memory_allocated())
        out["cudnn_version"] = torch.backends.cudnn.version()
    return out
