"""Time-sharded solvers on the local devices, plus a communication model from 8 to 1024 GPUs.

Run (CPU, 4 forced host devices; small sizes, the machine is shared):

    XLA_FLAGS=--xla_cpu_multi_thread_eigen=false nice -n 10 \
        .venv/bin/python benchmarks/scaling.py --devices 4 --out benchmarks/results/scaling-cpu.json

It writes one JSON object: environment, measured timings (median of `--repeats` runs after a
compile run), the collectives XLA emits per Newton iteration (parsed from the compiled HLO),
and the analytic model of docs/scaling.md.
"""

import argparse
import datetime
import json
import math
import platform
import re
import statistics
import time


def _parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=4, help="CPU devices to force (if on CPU)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/scaling-cpu.json")
    return p.parse_args()


ARGS = _parse_args()

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", ARGS.devices)
import jax.numpy as jnp  # noqa: E402

import paratime  # noqa: E402
from paratime.recurrences import Associative, Scan, Sharded  # noqa: E402

INNER = {"sequential": Scan(), "associative": Associative()}


def _timeit(fn, *args):
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(ARGS.repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    # The machine is shared: the minimum is the least disturbed run; the median is reported too.
    return dict(seconds_min=min(times), seconds_median=statistics.median(times))


def _meshes():
    n = jax.device_count()
    sizes = [p for p in (1, 2, 4, 8, 16) if p <= n]
    return {p: jax.make_mesh((p,), ("time",), devices=jax.devices()[:p]) for p in sizes}


def bench_recurrence(meshes):
    rows = []
    key = jax.random.key(0)
    for structure, T, N in (("diagonal", 2**16, 32), ("dense", 2**12, 8)):
        shape = (T, N) if structure == "diagonal" else (T, N, N)
        a = 0.9 * jax.random.uniform(key, shape) / (1 if structure == "diagonal" else N)
        b = jax.random.normal(jax.random.fold_in(key, 1), (T, N))
        h0 = jnp.zeros(N)
        for method, inner in INNER.items():
            fn = jax.jit(
                lambda a, b, h0, r=inner: paratime.linear_recurrence(a, b, h0, recurrence=r)
            )
            rows.append(
                dict(
                    structure=structure,
                    T=T,
                    N=N,
                    devices=1,
                    solver=f"single:{method}",
                    **_timeit(fn, a, b, h0),
                )
            )
        for p, mesh in meshes.items():
            for exchange in ("all_gather", "ppermute"):
                for method, inner in INNER.items():
                    sharded = Sharded(mesh, "time", exchange=exchange, inner=inner)
                    fn = jax.jit(
                        lambda a, b, h0, r=sharded: paratime.linear_recurrence(
                            a, b, h0, recurrence=r
                        )
                    )
                    rows.append(
                        dict(
                            structure=structure,
                            T=T,
                            N=N,
                            devices=p,
                            solver=f"sharded:{exchange}:{method}",
                            **_timeit(fn, a, b, h0),
                        )
                    )
                    print(rows[-1], flush=True)
    return rows


def _collectives_in_loop(hlo: str) -> list[dict]:
    """Collectives inside while-loop bodies of a compiled HLO module, with their shapes."""
    comps, current = {}, None
    for line in hlo.splitlines():
        m = re.match(r"^(?:ENTRY )?%?([\w.\-]+) ", line)
        if m and line.rstrip().endswith("{"):
            current = m.group(1)
            comps[current] = []
        elif current is not None:
            comps[current].append(line)
    refs = re.compile(r"(?:body|condition|to_apply|calls|branch_computations)=\{?%?([\w.\-, %]+)")

    def reachable(name, seen):
        if name in seen or name not in comps:
            return
        seen.add(name)
        for line in comps[name]:
            for group in refs.findall(line):
                for callee in group.replace("%", "").split(","):
                    reachable(callee.strip(), seen)

    bodies = set()
    for lines in comps.values():
        for line in lines:
            if " while(" in line:
                m = re.search(r"body=%?([\w.\-]+)", line)
                if m:
                    reachable(m.group(1), bodies)
    sizes = {"f64": 8, "f32": 4, "s32": 4, "pred": 1, "c128": 16, "c64": 8, "s64": 8}
    found = []
    for name in bodies:
        for line in comps[name]:
            m = re.search(
                r"= (\w+)\[([\d,]*)\][^ ]* (all-gather|collective-permute|all-reduce|all-to-all)"
                r"(?:-start)?\(",
                line,
            )
            if m:
                dims = [int(d) for d in m.group(2).split(",") if d]
                nbytes = math.prod(dims) * sizes.get(m.group(1), 4)
                found.append(dict(op=m.group(3), dtype=m.group(1), shape=dims, bytes=nbytes))
    return found


def bench_newton(meshes):
    rows = []
    cell = paratime.cells.GRU(3, 16, key=jax.random.key(0))
    T = 4096
    xs = jax.random.normal(jax.random.key(1), (T, 3))
    h0 = jnp.zeros(16)
    solvers = {
        "Sequential": (1, paratime.Sequential()),
        "DEER": (1, paratime.DEER()),
        "QuasiDEER": (1, paratime.QuasiDEER()),
    }
    for p, mesh in meshes.items():
        solvers[f"ShardedDEER[{p}]"] = (p, paratime.DEER(recurrence=Sharded(mesh)))
        solvers[f"ShardedQuasiDEER[{p}]"] = (p, paratime.QuasiDEER(recurrence=Sharded(mesh)))
    for name, (p, solver) in solvers.items():
        fn = jax.jit(lambda xs, s=solver: paratime.unroll(cell, h0, xs, solver=s))
        sol = fn(xs)
        row = dict(
            solver=name,
            devices=p,
            T=T,
            N=16,
            **_timeit(fn, xs),
            newton_iterations=int(sol.stats["num_steps"]),
        )
        if name.startswith("Sharded"):
            row["collectives_per_iteration"] = _collectives_in_loop(
                fn.lower(xs).compile().as_text()
            )
        rows.append(row)
        print(row, flush=True)
    return rows


def model(devices=(8, 16, 32, 64, 128, 256, 512, 1024), T=2**20, w=4):
    """Per-Newton-iteration compute and communication per GPU (see docs/scaling.md).

    Assumed hardware (not measured here): H100-class GPUs, 8 per node on NVLink, nodes on
    200 Gb/s InfiniBand per GPU. Collectives: a ring all-gather takes (P−1) latency steps; the
    ppermute prefix takes ceil(log2 P) rounds plus one shift; scalar all-reduces take
    ceil(log2 P) latency steps.
    """
    hw = dict(
        flops=50e12,  # sustained fp32 FLOP/s per GPU (H100 SXM peak ~67e12)
        mem_bw=3.0e12,  # bytes/s HBM
        launch=5e-6,  # s per kernel launch
        kernels=12,  # kernels per Newton iteration
        alpha_intra=5e-6,  # s per collective latency step inside a node (NVLink)
        alpha_inter=15e-6,  # s per step across nodes (InfiniBand)
        beta_intra=1 / 300e9,  # s/byte per GPU, NVLink
        beta_inter=1 / 25e9,  # s/byte per GPU, 200 Gb/s InfiniBand
        gpus_per_node=8,
    )
    rows = []
    for kind, N, D in (("QuasiDEER", 256, 64), ("DEER", 64, 64)):
        for P in devices:
            steps = T // P
            cell_flops = 2 * 3 * N * (N + D) + (2 * 3 * N * N if kind == "DEER" else 10 * N)
            if kind == "DEER":
                scan_flops = 2 * 2 * N**3  # ~2 combines per step, one N×N matmul each
                scan_bytes = 4 * (N * N + N) * w
                summary = (N * N + N) * w
            else:
                scan_flops = 2 * 3 * N
                scan_bytes = 6 * 2 * N * w
                summary = 2 * N * w
            compute = (
                max(
                    steps * (cell_flops + scan_flops) / hw["flops"],
                    steps * scan_bytes / hw["mem_bw"],
                )
                + hw["kernels"] * hw["launch"]
            )
            inter = P > hw["gpus_per_node"]
            alpha = hw["alpha_inter"] if inter else hw["alpha_intra"]
            beta = hw["beta_inter"] if inter else hw["beta_intra"]
            rounds = math.ceil(math.log2(P))
            halo = N * w  # the boundary state from the left neighbour
            fixed_s = (alpha + halo * beta) + 2 * rounds * alpha  # halo + 2 scalar all-reduces
            gather_bytes = (P - 1) * summary
            prefix_bytes = rounds * summary + halo
            rows.append(
                dict(
                    solver=kind,
                    N=N,
                    D=D,
                    T=T,
                    gpus=P,
                    steps_per_gpu=steps,
                    compute_s=compute,
                    bytes_all_gather=gather_bytes + halo,
                    bytes_ppermute=prefix_bytes + halo,
                    comm_all_gather_s=(P - 1) * alpha + gather_bytes * beta + fixed_s,
                    comm_ppermute_s=(rounds + 1) * alpha + prefix_bytes * beta + fixed_s,
                )
            )
    return dict(hardware=hw, rows=rows)


def main():
    meshes = _meshes()
    result = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        jax=jax.__version__,
        backend=jax.default_backend(),
        devices=[str(d) for d in jax.devices()],
        host=dict(platform=platform.platform(), cpu_count=__import__("os").cpu_count()),
        note="CPU devices are forced host devices sharing the same cores (2 cores, shared "
        "with other jobs): timings show overhead, not parallel speed-up.",
        recurrence=bench_recurrence(meshes),
        newton=bench_newton(meshes),
        model=model(),
    )
    with open(ARGS.out, "w") as f:
        json.dump(result, f, indent=1)
    print("wrote", ARGS.out)


if __name__ == "__main__":
    main()
