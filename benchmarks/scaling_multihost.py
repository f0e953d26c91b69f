"""Run the time-sharded solvers across several processes, as on several hosts.

Launch (here: 2 processes on this machine, 2 CPU devices each, gloo collectives):

    .venv/bin/python benchmarks/scaling_multihost.py --processes 2 --devices-per-process 2

On a cluster, start one process per host instead, each with the environment shown in
docs/scaling.md (`JAX_COORDINATOR_ADDRESS`, `PARATIME_NUM_PROCESSES`, `PARATIME_PROCESS_ID`),
and the `worker` sub-command. Each worker checks its part of the result against a NumPy
loop / `Sequential` and process 0 prints one JSON line.
"""

import argparse
import json
import os
import subprocess
import sys


def worker(devices_per_process: int) -> None:
    import jax

    if jax.config.jax_platforms in (None, "", "cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.config.update("jax_num_cpu_devices", devices_per_process)
    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(
        coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
        num_processes=int(os.environ["PARATIME_NUM_PROCESSES"]),
        process_id=int(os.environ["PARATIME_PROCESS_ID"]),
    )
    import jax.numpy as jnp
    import numpy as np
    from jax.experimental import multihost_utils
    from jax.sharding import NamedSharding, PartitionSpec

    import paratime
    from paratime._engine._sharding import auto_mesh
    from paratime.recurrences import Sharded

    # Auto axes: `unroll` slices and pads its inputs, which explicit-axis sharding forbids.
    mesh = auto_mesh(jax.make_mesh((jax.device_count(),), ("time",)))
    time_sharded = NamedSharding(mesh, PartitionSpec("time"))
    replicated = NamedSharding(mesh, PartitionSpec())

    def global_array(x, sharding):
        """Every process holds the same NumPy data; each device takes its own slice."""
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    rng = np.random.default_rng(0)
    T, N = 64 * jax.device_count(), 4
    a, b, h0 = rng.uniform(0, 0.95, (T, N)), rng.normal(size=(T, N)), rng.normal(size=N)
    sharded = Sharded(mesh, "time", exchange="ppermute")
    h = jax.jit(lambda a, b, h0: paratime.linear_recurrence(a, b, h0, recurrence=sharded))(
        global_array(a, time_sharded),
        global_array(b, time_sharded),
        global_array(h0, replicated),
    )
    want, state = np.empty((T, N)), h0
    for t in range(T):
        state = a[t] * state + b[t]
        want[t] = state
    err_scan = float(np.max(np.abs(multihost_utils.process_allgather(h, tiled=True) - want)))

    cell = paratime.cells.GRU(3, 8, key=jax.random.key(0))  # same key: same cell everywhere
    xs = rng.normal(size=(T, 3))
    solver = paratime.QuasiDEER(recurrence=Sharded(mesh))
    sol = jax.jit(lambda xs: paratime.unroll(cell, jnp.zeros(8), xs, solver=solver))(
        global_array(xs, time_sharded)
    )
    ref = paratime.unroll(cell, jnp.zeros(8), xs, solver=paratime.Sequential()).states
    states = multihost_utils.process_allgather(sol.states, tiled=True)
    err_unroll = float(np.max(np.abs(states - np.asarray(ref))))
    if jax.process_index() == 0:
        print(
            json.dumps(
                dict(
                    processes=jax.process_count(),
                    devices=jax.device_count(),
                    local_devices=jax.local_device_count(),
                    T=T,
                    jax=jax.__version__,
                    max_err_sharded_linear_recurrence=err_scan,
                    max_err_sharded_quasideer_vs_sequential=err_unroll,
                    newton_iterations=int(sol.stats["num_steps"]),
                )
            )
        )
    jax.distributed.shutdown()


def launch(processes: int, devices_per_process: int, port: int) -> int:
    procs = []
    for pid in range(processes):
        env = dict(
            os.environ,
            JAX_PLATFORMS="cpu",
            JAX_COORDINATOR_ADDRESS=f"localhost:{port}",
            PARATIME_NUM_PROCESSES=str(processes),
            PARATIME_PROCESS_ID=str(pid),
        )
        cmd = [
            sys.executable,
            __file__,
            "worker",
            "--devices-per-process",
            str(devices_per_process),
        ]
        procs.append(subprocess.Popen(cmd, env=env))
    return max(p.wait() for p in procs)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", nargs="?", default="launch", choices=["launch", "worker"])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--devices-per-process", type=int, default=2)
    p.add_argument("--port", type=int, default=23456)
    args = p.parse_args()
    if args.mode == "worker":
        worker(args.devices_per_process)
    else:
        sys.exit(launch(args.processes, args.devices_per_process, args.port))
