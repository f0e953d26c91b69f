"""Each optimisation technique measured against its alternative, side by side.

The records (with an `experiment` field) go to the same results file as the sweep, and
docs/benchmarks.md lists them under "Techniques tried".
"""

import contextlib
import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np

import paratime
from paratime._engine._solver._kalman import damped_step
from paratime.bench import environment, results_path
from paratime.cells._abstract import scan_cell
from paratime.recurrences import Associative, Scan
from paratime.structures import AbstractStructure, Dense, Diagonal

STRUCTURES = {"dense": Dense(), "diagonal": Diagonal()}
STRATEGIES = {"associative": Associative(), "sequential": Scan()}


def blocked_scan(structure: AbstractStructure, a, b, h0, chunk: int):
    """A blocked linear recurrence (tried, not kept): sequential inside chunks, vmapped across
    them. Pass 1 runs every chunk from zero and accumulates its transition product, pass 2
    carries the chunk start states, pass 3 re-runs every chunk from its true start."""
    T = a.shape[0]
    C = -(-T // chunk)
    pad = C * chunk - T
    eye = structure.identity(structure.size(a), a.dtype)
    if pad:
        a = jnp.concatenate([a, jnp.broadcast_to(eye, (pad,) + a.shape[1:])])
        b = jnp.concatenate([b, jnp.zeros((pad,) + b.shape[1:], b.dtype)])
    ac = jnp.swapaxes(a.reshape((C, chunk) + a.shape[1:]), 0, 1)
    bc = jnp.swapaxes(b.reshape((C, chunk) + b.shape[1:]), 0, 1)
    comb = structure.combine
    P0 = jnp.broadcast_to(eye, (C,) + a.shape[1:])
    (P, e), _ = lax.scan(lambda c, ab: (comb(c, ab), None), (P0, jnp.zeros_like(bc[0])), (ac, bc))
    _, starts = lax.scan(lambda h, pe: (structure.apply(pe[0], h) + pe[1], h), h0, (P, e))
    apply = jax.vmap(structure.apply)

    def rerun(u, ab):
        u = apply(ab[0], u) + ab[1]
        return u, u

    _, h = lax.scan(rerun, starts, (ac, bc))
    return jnp.swapaxes(h, 0, 1).reshape((C * chunk,) + b.shape[1:])[:T]


class _UnblockedQuasiDEER(paratime.QuasiDEER):
    """QuasiDEER with its evaluation pass over all T steps at once (the variant not kept)."""

    def _eval_block(self, structure, T):
        return None


@contextlib.contextmanager
def _lockstep_on_cpu():
    """On a CPU too, a vmapped Newton solve is batched (in lockstep) rather than run one
    sequence after another (the variant not kept there): traced inside this context."""
    from paratime._engine._solver import _newton

    kept = _newton.one_at_a_time_on_cpu
    _newton.one_at_a_time_on_cpu = lambda fun, *args: fun(*args)
    try:
        yield
    finally:
        _newton.one_at_a_time_on_cpu = kept


def _within(context: Callable, fn: Callable) -> Callable:
    """`fn()` called inside `context()`."""

    def call():
        with context():
            return fn()

    return call


# (A third variant, a vmapped `lax.while_loop` that stops each sequence on its own, was measured
# slower than lockstep and never kept; its switch has left the package. Its records stay in
# results/.)
BATCHING_VARIANTS = {
    "vmap, lockstep": _lockstep_on_cpu,
    "one sequence after another (CPU)": contextlib.nullcontext,
}


class _JacobiansAgainDEER(paratime.DEER):
    """DEER whose adjoint evaluates the Jacobians again (the variant not kept)."""

    def solve(self, cell, h0, xs, guess):
        out = super().solve(cell, h0, xs, guess)
        assert out.linearisation is not None
        lin = dataclasses.replace(out.linearisation, jacobians=None)
        return dataclasses.replace(out, linearisation=lin)


class _Plain(eqx.Module):
    """A shipped cell seen as a plain callable: paratime must use autodiff (`jacfwd`)
    Jacobians instead of the cell's analytic ones."""

    cell: eqx.Module

    def __call__(self, h, x):
        return self.cell(h, x)  # type: ignore[operator]


def _time_side_by_side(fns: dict[str, Callable], repeats: int) -> dict[str, list[float]]:
    for f in fns.values():  # compile and warm up
        jax.block_until_ready(f())
    times: dict[str, list[float]] = {n: [] for n in fns}
    for _ in range(repeats):
        for n, f in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(f())
            times[n].append(time.perf_counter() - start)
    return times


# (experiment, setting, {variant: timed call}, what was kept, {variant: working memory thunk})
Experiment = tuple[str, str, dict[str, Callable], str, dict[str, Callable]]


def _experiments(quick: bool) -> list[Experiment]:
    """Every experiment; nothing is compiled or run until its calls are made."""
    T = 10_000 if quick else 100_000
    N = 16
    k = jax.random.split(jax.random.key(0), 4)
    dense = 0.9 * jax.random.normal(k[0], (T, N, N)) / np.sqrt(N)
    diag = jax.random.uniform(k[1], (T, N))
    b = jax.random.normal(k[2], (T, N))
    h0 = jnp.zeros(N)
    gru = paratime.cells.GRU(4, N, key=k[3])
    xs = jax.random.normal(k[3], (T, 4))
    jit = jax.jit
    out = []
    for st, a in (("dense", dense), ("diagonal", diag)):
        s = STRUCTURES[st]
        fns = {
            "associative scan": jit(lambda a, s=s: Associative().solve(s, a, b, h0, False)),
            "blocked (chunk √T)": jit(lambda a, s=s: blocked_scan(s, a, b, h0, int(T**0.5))),
            "sequential scan": jit(lambda a, s=s: Scan().solve(s, a, b, h0, False)),
        }
        out.append(
            (
                "linear solve algorithm on CPU",
                f"{st} a, T={T:.0e}, N={N}",
                {n: (lambda f=f, a=a: f(a)) for n, f in fns.items()},
                "sequential scan (the CPU default of `linear_recurrence`)",
                {},
            )
        )
    for method in ("associative", "sequential"):

        def loss(fn, a=diag):
            return jax.grad(lambda a, b: jnp.sum(jnp.sin(fn(a, b, h0))), argnums=(0, 1))

        r = STRATEGIES[method]
        auto = jit(loss(lambda a, b, h0, r=r: r.solve(Diagonal(), a, b, h0, False)))
        impl = jit(loss(lambda a, b, h0, r=r: paratime.linear_recurrence(a, b, h0, recurrence=r)))
        out.append(
            (
                "gradient of linear_recurrence",
                f"{method} diagonal scan, T={T:.0e}, N={N}",
                {
                    "autodiff through the scan": lambda f=auto: f(diag, b),
                    "implicit (custom_linear_solve, reverse scan)": lambda f=impl: f(diag, b),
                },
                "implicit",
                {},
            )
        )

    def unroll_on(cell, solver, xs, guess=None):
        return paratime.unroll(cell, h0, xs, solver=solver, throw=False, guess=guess).states

    def unroll(cell, solver, guess=None):
        return unroll_on(cell, solver, xs, guess)

    deer = eqx.filter_jit(lambda c: unroll(c, paratime.DEER()))
    out.append(
        (
            "Jacobians",
            f"DEER forward, GRU, T={T:.0e}, N={N}",
            {
                "jacfwd (plain callable)": lambda: deer(_Plain(gru)),
                "analytic (GRU cell)": lambda: deer(gru),
            },
            "analytic",
            {},
        )
    )
    Tt, Nw = T // 10, 64
    for name in ("GRU", "LSTM", "Elman"):
        cell = getattr(paratime.cells, name)(4, Nw, key=k[3])
        h = (jnp.zeros(Nw),) * 2 if name == "LSTM" else jnp.zeros(Nw)
        for solver in (paratime.DEER(), paratime.QuasiDEER()):
            run = eqx.filter_jit(
                lambda c, solver=solver, h=h: (
                    paratime.unroll(c, h, xs[:Tt], solver=solver, throw=False).states
                )
            )
            out.append(
                (
                    "Jacobians",
                    f"{type(solver).__name__} forward, {name}, T={Tt:.0e}, N={Nw}",
                    {
                        "jacfwd (plain callable)": lambda run=run, c=cell: run(_Plain(c)),
                        f"analytic ({name} cell)": lambda run=run, c=cell: run(c),
                    },
                    "analytic",
                    {},
                )
            )
    naive = eqx.filter_jit(lambda c: paratime.bench.naive_deer(c, h0, xs)[0])
    out.append(
        (
            "all engineering",
            f"DEER forward, GRU, T={T:.0e}, N={N}",
            {"straightforward DEER": lambda: naive(gru), "paratime DEER": lambda: deer(gru)},
            "paratime DEER",
            {},
        )
    )
    old = jax.tree_util.tree_map(lambda x: x * 1.001 if eqx.is_array(x) else x, gru)
    previous = functools.cache(
        jit(lambda: paratime.unroll(old, h0, xs, solver=paratime.Sequential()).states)
    )
    warm = eqx.filter_jit(lambda c, g: unroll(c, paratime.DEER(), g))
    out.append(
        (
            "warm start",
            f"DEER forward after a 0.1% parameter change, GRU, T={T:.0e}, N={N}",
            {
                "cold (zeros)": lambda: deer(gru),
                "warm (previous trajectory)": lambda: warm(gru, previous()),
            },
            "yes (pass `guess=`)",
            {},
        )
    )

    def train(solver):
        return eqx.filter_jit(
            eqx.filter_grad(
                lambda c: jnp.mean(paratime.unroll(c, h0, xs[:Tt], solver=solver).states ** 2)
            )
        )

    implicit = train(paratime.Sequential(adjoint=paratime.ImplicitAdjoint()))
    out.append(
        (
            "training gradient",
            f"GRU, T={Tt:.0e}, N={N}: sequential forward, then",
            {
                "BPTT through lax.scan": lambda f=train(paratime.Sequential()): f(gru),
                "implicit adjoint (one reverse linear scan)": lambda f=implicit: f(gru),
            },
            "yes: `Auto` on CPU",
            {},
        )
    )
    a32, b32 = dense[:Tt], b[:Tt]
    a16, b16 = a32.astype(jnp.bfloat16), b32.astype(jnp.bfloat16)
    seq = jit(lambda a, b: Scan().solve(Dense(), a, b, jnp.zeros(N, a.dtype), False))
    out.append(
        (
            "mixed precision",
            f"dense sequential linear solve, T={Tt:.0e}, N={N}",
            {"float32": lambda: seq(a32, b32), "bfloat16": lambda: seq(a16, b16)},
            "no: slower on CPU, and 3 significant digits",
            {},
        )
    )
    setting = f"QuasiDEER forward, GRU, T={T:.0e}, N={N}"
    variants = {
        "all T steps at once (vmap)": _UnblockedQuasiDEER(),
        "blocks read in place (dynamic_slice)": paratime.QuasiDEER(),
    }
    fns, memory = {}, {}
    for variant, solver in variants.items():
        run = jax.jit(lambda c, solver=solver: unroll(c, solver))
        memory[variant] = lambda run=run: working_bytes_per_TN(run, (gru,), T * N)
        fns[variant] = lambda run=run: run(gru)
    out.append(("QuasiDEER evaluation in blocks", setting, fns, "yes (CPU)", memory))
    B, Tb = 16, T // 10
    xb = jax.random.normal(k[2], (B, Tb, 4))
    for name in ("QuasiDEER", "DEER"):
        solver = getattr(paratime, name)()
        fns, memory = {}, {}
        for variant, context in BATCHING_VARIANTS.items():
            # (Each variant's program is traced, and cached, inside its context.)
            run = jax.jit(
                lambda c, x, solver=solver: jax.vmap(lambda x: unroll_on(c, solver, x))(x)
            )
            memory[variant] = _within(
                context, lambda run=run: working_bytes_per_TN(run, (gru, xb), B * Tb * N)
            )
            fns[variant] = _within(context, lambda run=run: run(gru, xb))
        setting = f"{name} forward, GRU, batch {B}, T={Tb:.0e}, N={N}"
        kept = "one after another on a CPU, lockstep elsewhere"
        out.append(("batched Newton solves", setting, fns, kept, memory))
        fns = {}
        for variant, context in BATCHING_VARIANTS.items():
            step = eqx.filter_jit(
                eqx.filter_value_and_grad(
                    lambda c, solver=solver: jnp.mean(
                        jax.vmap(lambda x: unroll_on(c, solver, x))(xb) ** 2
                    )
                )
            )
            fns[variant] = _within(context, lambda step=step: step(gru))
        setting = f"{name} training step, GRU, batch {B}, T={Tb:.0e}, N={N}"
        out.append(("batched Newton solves", setting, fns, kept, {}))
    for st, a in (("dense", dense[:Tt]), ("diagonal", diag[:Tt])):
        step = jax.jit(damped_step, static_argnames="recurrence")
        y, lam = b[:Tt] + 0.1, jnp.asarray(0.5)
        out.append(
            (
                "Kalman filter of the ELK step on CPU",
                f"{st} a, T={Tt:.0e}, N={N}",
                {
                    m: lambda a=a, m=m: step(a, b[:Tt], h0, y, lam, recurrence=STRATEGIES[m])
                    for m in ("associative", "sequential")
                },
                "sequential for dense A, associative for diagonal A (CPU)",
                {},
            )
        )
    lstm = paratime.cells.LSTM(4, N, key=k[3])
    lstm_h0 = (h0, h0)

    def lstm_train(solver):
        def loss(c):
            states = paratime.unroll(c, lstm_h0, xs[:Tt], solver=solver).states
            return sum(jnp.mean(s**2) for s in states)

        return eqx.filter_jit(eqx.filter_value_and_grad(loss))

    out.append(
        (
            "adjoint Jacobians",
            f"DEER training step, LSTM, T={Tt:.0e}, N={N}",
            {
                "evaluated again": lambda f=lstm_train(_JacobiansAgainDEER()): f(lstm),
                "reused from the Newton solve": lambda f=lstm_train(paratime.DEER()): f(lstm),
            },
            "reused",
            {},
        )
    )
    xt, kept = xs[:Tt], "LSTM.trajectory for one sequence, the plain scan under vmap"
    xb = jax.random.normal(k[2], (16, Tt // 10, 4))
    for n in (N, 64):
        cell, h = paratime.cells.LSTM(4, n, key=k[3]), (jnp.zeros(n),) * 2
        plain = eqx.filter_jit(lambda c, x, h=h: scan_cell(c, h, x))
        fast = eqx.filter_jit(lambda c, x, h=h: type(c).trajectory(c, h, x))
        for x, what in ((xt, ""), (xb, " batch 16 (vmap),")):
            run = (
                (lambda f: f) if x.ndim == 2 else (lambda f: eqx.filter_vmap(f, in_axes=(None, 0)))
            )
            out.append(
                (
                    "LSTM forward loop",
                    f"Sequential forward, LSTM,{what} T={x.shape[-2]:.0e}, N={n}",
                    {
                        "lax.scan of the cell's step": lambda f=run(plain), c=cell, x=x: f(c, x),
                        "LSTM.trajectory": lambda f=run(fast), c=cell, x=x: f(c, x),
                    },
                    kept,
                    {},
                )
            )
    return out


def working_bytes_per_TN(fn: Callable, args: tuple, size: int) -> float | None:
    """XLA's compiled temporaries + outputs of `jax.jit`-ed `fn(*args)`, per T·N (= `size`)."""
    try:
        mem = fn.lower(*args).compile().memory_analysis()  # type: ignore[attr-defined]
        return (mem.temp_size_in_bytes + mem.output_size_in_bytes) / size
    except Exception:  # pragma: no cover - backends without the analysis
        return None


def run_ablation(
    out_dir: str | Path = "benchmarks/results",
    *,
    repeats: int = 7,
    quick: bool = False,
    only: Sequence[str] | None = None,
) -> Path:
    """Measure every technique (or those named in `only`) against its alternative; append the
    records; return the file."""
    experiments = _experiments(quick)
    if only is not None:
        unknown = set(only) - {e[0] for e in experiments}
        if unknown:
            raise ValueError(
                f"`only` names unknown experiments {sorted(unknown)}; "
                f"expected some of {sorted({e[0] for e in experiments})}."
            )
        experiments = [e for e in experiments if e[0] in only]
    env = environment()
    path = results_path(out_dir, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for experiment, setting, fns, kept, memory in experiments:
            times = _time_side_by_side(fns, repeats)
            base = None
            for variant, ts in times.items():
                med = float(np.median(ts))
                base = med if base is None else base
                rec: dict[str, Any] = dict(
                    env,
                    experiment=experiment,
                    setting=setting,
                    variant=variant,
                    status="ok",
                    median_s=med,
                    min_s=min(ts),
                    max_s=max(ts),
                    times_s=ts,
                    ratio=med / base,
                    kept=kept,
                    working_bytes_per_TN=memory[variant]() if variant in memory else None,
                    load_avg=os.getloadavg()[0],
                )
                f.write(json.dumps(rec) + "\n")
                print(
                    f"{experiment:32} {setting:55} {variant:45} {med:.4g} s  {med / base:.2f}x",
                    flush=True,
                )
    return path
