"""Build, compile and time one solver on one grid point."""

import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import paratime

from ._baselines import naive_deer, scan_baseline
from ._grid import INPUT_SIZE, SOLVERS, Group

WARM_NOISE = 1e-3  # relative parameter change between two training steps, for warm starts


def make_problem(group: Group, *, seed: int = 0, dtype=jnp.float32) -> tuple[Any, Any, Any]:
    """The cell, initial state(s) and inputs of a grid point (batched when batch > 1)."""
    key_cell, key_x = jax.random.split(jax.random.key(seed))
    cls = {"GRU": paratime.cells.GRU, "LSTM": paratime.cells.LSTM, "Elman": paratime.cells.Elman}
    cell = cls[group.cell](INPUT_SIZE, group.N, key=key_cell, dtype=dtype)
    shape = (group.T, INPUT_SIZE) if group.batch == 1 else (group.batch, group.T, INPUT_SIZE)
    xs = jax.random.normal(key_x, shape, dtype)
    lead = () if group.batch == 1 else (group.batch,)
    h = jnp.zeros(lead + (group.N,), dtype)
    h0 = (h, h) if group.cell == "LSTM" else h
    return cell, h0, xs


def warm_guess(group: Group, cell: Any, h0: Any, xs: Any, seed: int = 0) -> Any:
    """The states of a slightly perturbed cell: what the previous training step left behind."""
    leaves, treedef = jax.tree_util.tree_flatten(eqx.filter(cell, eqx.is_array))
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    noisy = [
        x * (1 + WARM_NOISE * jax.random.normal(k, x.shape, x.dtype)) for x, k in zip(leaves, keys)
    ]
    old = eqx.combine(jax.tree_util.tree_unflatten(treedef, noisy), cell)
    run = lambda h, x: scan_baseline(old, h, x)  # noqa: E731
    return jax.jit(run if group.batch == 1 else jax.vmap(run))(h0, xs)


def _forward_fn(name: str) -> Callable:
    """(cell, h0, xs, guess) -> (states, iterations) for one unbatched sequence."""
    if name == "lax.scan":
        return lambda cell, h0, xs, guess: (scan_baseline(cell, h0, xs), jnp.array(0))
    if name == "naive-DEER":
        return lambda cell, h0, xs, guess: naive_deer(cell, h0, xs)
    factory = SOLVERS[name.removesuffix("+warm")][0]
    if factory is None:
        raise ValueError(f"{name!r} is not a paratime solver.")
    solver = factory()

    def run(cell, h0, xs, guess):
        sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False, guess=guess)
        return sol.states, sol.stats["num_steps"]

    return run


def build(group: Group, name: str) -> Callable:
    """The benchmarked function `(cell, h0, xs, guess) -> (output, iterations)`.

    Forward: the output is the states. Train: the output is (loss, gradient w.r.t. the cell),
    loss = mean of the squared states, the gradient by `eqx.filter_value_and_grad`.
    """
    forward = _forward_fn(name)
    if group.batch > 1:
        forward = jax.vmap(forward, in_axes=(None, 0, 0, 0))
    if group.workload == "forward":
        return forward

    def loss(cell, h0, xs, guess):
        states, iters = forward(cell, h0, xs, guess)
        leaves = jax.tree_util.tree_leaves(states)
        return sum(jnp.mean(x**2) for x in leaves) / len(leaves), iters

    def train(cell, h0, xs, guess):
        (value, iters), grads = eqx.filter_value_and_grad(loss, has_aux=True)(cell, h0, xs, guess)
        return (value, grads), iters

    return train


def compile_fn(fn: Callable, args: tuple) -> tuple[Callable, dict[str, Any]]:
    """Lower and compile `fn(*args)` with `jax.jit`; the compiled callable and its costs."""
    dynamic, static = eqx.partition(args, eqx.is_array)
    jitted = jax.jit(lambda d: fn(*eqx.combine(d, static)))
    start = time.perf_counter()
    lowered = jitted.lower(dynamic)
    traced = time.perf_counter()
    compiled = lowered.compile()
    done = time.perf_counter()
    info: dict[str, Any] = {"trace_s": traced - start, "compile_s": done - traced}
    try:
        mem = compiled.memory_analysis()
    except Exception:  # pragma: no cover - backends without the analysis
        mem = None
    if mem is not None:
        arg, out = int(mem.argument_size_in_bytes), int(mem.output_size_in_bytes)
        temp, alias = int(mem.temp_size_in_bytes), int(mem.alias_size_in_bytes)
        info.update(
            argument_bytes=arg,
            output_bytes=out,
            temp_bytes=temp,
            peak_bytes=arg + out + temp - alias,
            working_bytes=out + temp,
        )
    return (lambda: compiled(dynamic)), info


def time_call(call: Callable[[], Any]) -> tuple[float, Any]:
    """Time one call of `call()` in seconds, waiting for its result (`block_until_ready`).

    The one timing helper of the package: the harness and `paratime demo` use it.

    **Arguments:**

    - `call`: a function of no arguments (compile it first to leave compilation out).

    **Returns:**

    `(seconds, output)`.
    """
    start = time.perf_counter()
    out = jax.block_until_ready(call())
    return time.perf_counter() - start, out


def deviation(out: Any, ref: Any) -> tuple[float, float]:
    """(max absolute, max relative-to-scale) difference between two outputs."""
    a = jax.tree_util.tree_leaves(out)
    b = jax.tree_util.tree_leaves(ref)
    if len(a) != len(b):
        return float("nan"), float("nan")
    abs_dev, scale = 0.0, 0.0
    for x, y in zip(a, b):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x.shape != y.shape:
            return float("nan"), float("nan")
        abs_dev = max(abs_dev, float(np.max(np.abs(x - y), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(y), initial=0.0)))
    return abs_dev, abs_dev / scale if scale > 0 else abs_dev


def device_peak_bytes() -> int | None:
    """The device allocator's peak (GPU/TPU); None on a CPU."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # pragma: no cover
        return None
    return None if not stats else int(stats.get("peak_bytes_in_use", 0)) or None
