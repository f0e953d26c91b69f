"""A/B of the engine before and after a change, side by side on this machine.

Runs each case in a fresh subprocess against two source trees (`--old`, `--new`), alternating
old/new for `--rounds` rounds so that load changes hit both alike, and prints the medians and
the new/old ratios (of the medians, and of the fastest rounds). Inside a subprocess: compile
(timed), one warm-up, then `--repeats` timed calls (their median), and the compiled working
memory from `memory_analysis()`.

    git worktree add ../before <commit>   # the code before the change
    python benchmarks/engine_ab.py --old ../before/src --new src --rounds 3

Cases (CPU, float32): GRU N=16 T=1e5 forward and gradient for DEER, QuasiDEER, Sequential
and Auto; DEER with time sharded over 4 host devices; chunked DEER memory; dense ELK
compile time at T=1e4; Parareal (64 slices, T=1e4);
batched DEER (16 × T=1e4, the lockstep loop); the DSR training step
(shPLRNN) under Auto and Sequential.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

SHARDED = (
    "paratime.DEER(recurrence=paratime.recurrences.Sharded(jax.make_mesh((4,), ('time',)), 'time'))"
)
CASES = {
    # name: (solver expression, workload, T, N, batch)
    "deer-fwd": ("paratime.DEER()", "forward", 100_000, 16, 1),
    "deer-grad": ("paratime.DEER()", "gradient", 100_000, 16, 1),
    "quasideer-fwd": ("paratime.QuasiDEER()", "forward", 100_000, 16, 1),
    "quasideer-grad": ("paratime.QuasiDEER()", "gradient", 100_000, 16, 1),
    "sequential-fwd": ("paratime.Sequential()", "forward", 100_000, 16, 1),
    "sequential-grad": ("paratime.Sequential()", "gradient", 100_000, 16, 1),
    "auto-fwd": ("paratime.Auto()", "forward", 100_000, 16, 1),
    "auto-grad": ("paratime.Auto()", "gradient", 100_000, 16, 1),
    "auto-grad-b16": ("paratime.Auto()", "gradient", 10_000, 16, 16),
    "deer-chunked-fwd": (
        "paratime.DEER(recurrence=paratime.recurrences.Chunked(1000))",
        "forward",
        100_000,
        16,
        1,
    ),
    # Time split over 4 CPU devices (the child is started with 4 host devices).
    "sharded-deer-fwd": (SHARDED, "forward", 100_000, 16, 1),
    "sharded-deer-grad": (SHARDED, "gradient", 100_000, 16, 1),
    "elk-fwd-T1e4": ("paratime.ELK(max_iters=30)", "forward", 10_000, 16, 1),
    "parareal-fwd": ("paratime.Parareal(num_slices=64)", "forward", 10_000, 16, 1),
    "deer-fwd-b16": ("paratime.DEER()", "forward", 10_000, 16, 16),
    "dsr-auto": ("paratime.Auto()", "dsr", 200, 50, 16),
    "dsr-sequential": ("paratime.Sequential()", "dsr", 200, 50, 16),
}

CHILD = r"""
import json, sys, time, statistics
import jax, jax.numpy as jnp, equinox as eqx
import paratime
name, solver_src, workload, T, N, batch, repeats = sys.argv[1:]
T, N, batch, repeats = int(T), int(N), int(batch), int(repeats)
solver = eval(solver_src)
key = jax.random.key(0)
if workload == "dsr":
    from paratime import dsr
    M = 3
    cell = dsr.ShallowPLRNN(M, N, key=key)
    xs = jnp.zeros((batch, T, 0))
    h0 = 0.1 * jax.random.normal(key, (batch, M))
    target = jax.random.normal(jax.random.key(2), (batch, T, M))

    def loss(cell, h0, xs, target):
        def one(h, x, y):
            sol = paratime.unroll(cell, h, x, solver=solver)
            return jnp.mean((sol.states - y) ** 2)
        return jnp.mean(jax.vmap(one)(h0, xs, target))

    raw = eqx.filter_value_and_grad(loss)
    args = (cell, h0, xs, target)
else:
    cell = paratime.cells.GRU(3, N, key=key)
    shape = (T, 3) if batch == 1 else (batch, T, 3)
    xs = jax.random.normal(jax.random.key(1), shape)
    h0 = jnp.zeros(N)

    def run(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=solver).states

    if batch > 1:
        run1 = run
        run = lambda cell, h0, xs: jax.vmap(run1, in_axes=(None, None, 0))(cell, h0, xs)
    if workload == "forward":
        raw = run
    else:
        raw = eqx.filter_grad(lambda c, h, x: jnp.mean(run(c, h, x) ** 2))
    args = (cell, h0, xs)
dynamic, static = eqx.partition(args, eqx.is_array)
g = jax.jit(lambda d: raw(*eqx.combine(d, static)))
f = lambda *a: g(dynamic)
args_d = (dynamic,)
t0 = time.perf_counter()
compiled = g.lower(dynamic).compile()
compile_s = time.perf_counter() - t0
mem = compiled.memory_analysis()
temp = getattr(mem, "temp_size_in_bytes", 0) if mem is not None else 0
jax.block_until_ready(f(*args))
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f(*args))
    times.append(time.perf_counter() - t0)
print(json.dumps({"time": statistics.median(times), "compile": compile_s, "temp": temp}))
"""


def run_case(src: str, name: str, repeats: int) -> dict:
    solver, workload, T, N, batch = CASES[name]
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src), JAX_PLATFORMS="cpu")
    if name.startswith("sharded"):
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            name,
            solver,
            workload,
            str(T),
            str(N),
            str(batch),
            str(repeats),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    args = parser.parse_args()
    cases = args.case or list(CASES)
    results: dict = {c: {"old": [], "new": []} for c in cases}
    for r in range(args.rounds):
        for c in cases:
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                res = run_case(getattr(args, which), c, args.repeats)
                results[c][which].append(res)
                print(f"round {r} {c:18s} {which}: {res}", file=sys.stderr, flush=True)
    print(
        f"{'case':18s} {'old s':>9s} {'new s':>9s} {'ratio':>6s} {'old MB':>8s} {'new MB':>8s}"
        f" {'old comp':>8s} {'new comp':>8s} {'best ratio':>10s}"
    )
    for c in cases:
        row = {}
        for which in ("old", "new"):
            ok = [x for x in results[c][which] if "error" not in x]
            if not ok:
                row[which] = None
                continue
            row[which] = {
                k: statistics.median(x[k] for x in ok) for k in ("time", "compile", "temp")
            }
            # The fastest round too: on a shared machine the least disturbed one.
            row[which]["best"] = min(x["time"] for x in ok)
        if row["old"] is None or row["new"] is None:
            print(f"{c:18s} error: {results[c]}")
            continue
        o, n = row["old"], row["new"]
        print(
            f"{c:18s} {o['time']:9.4f} {n['time']:9.4f} {n['time'] / o['time']:6.2f} "
            f"{o['temp'] / 1e6:8.1f} {n['temp'] / 1e6:8.1f} {o['compile']:8.2f} "
            f"{n['compile']:8.2f} {n['best'] / o['best']:10.2f}"
        )


if __name__ == "__main__":
    main()
