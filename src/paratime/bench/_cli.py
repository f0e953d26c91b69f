"""`paratime bench`: time the solvers on your cells and sizes, print a summary, write JSON lines."""

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..cli._common import bad, new_app, positive

app = new_app(no_args_is_help=False)

QUICK_SOLVERS = ("Sequential", "DEER", "QuasiDEER", "Auto", "naive-DEER", "DEER+warm")


def _fmt_t(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def _summary(path: Path) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    seq = {
        (r["cell"], r["N"], r["T"], r["batch"], r["workload"]): r["median_s"]
        for r in records
        if r["solver"] == "Sequential" and r["status"] == "ok"
    }
    typer.echo(f"\n{'point':<34} {'solver':<15} {'median':>10} {'vs Seq':>8} {'iters':>5}")
    for r in records:
        key = (r["cell"], r["N"], r["T"], r["batch"], r["workload"])
        point = f"{r['cell']} N={r['N']} T={r['T']} B={r['batch']} {r['workload']}"
        if r["status"] != "ok":
            typer.echo(f"{point:<34} {r['solver']:<15} {r['status']}: {r.get('reason', '')}")
            continue
        ratio = f"{seq[key] / r['median_s']:.2f}x" if key in seq else "-"
        typer.echo(
            f"{point:<34} {r['solver']:<15} {_fmt_t(r['median_s']):>10} {ratio:>8} "
            f"{r.get('iterations', 0):>5}"
        )
    typer.echo(f"\nresults: {path}")


def _labels(names: list[str]) -> list[str]:
    """Benchmark labels (`DEER`, `QuasiDEER+warm`, `lax.scan`, ...) from the labels themselves
    or the command-line solver names (`quasi-deer`); errors name `--solver`."""
    from ._grid import LABELS, SOLVERS

    out = []
    for name in names:
        if name in SOLVERS:
            out.append(name)
        elif name in LABELS:
            out.append(LABELS[name])
        else:
            allowed = ", ".join([*LABELS, *SOLVERS])
            raise bad("--solver", f"unknown solver {name!r}; expected one of {allowed}.")
    return out


def _check(flag_name: str, values: list | None, allowed: tuple) -> None:
    bad_values = [v for v in values or () if v not in allowed]
    if bad_values:
        raise bad(flag_name, f"must be among {', '.join(map(str, allowed))}; got {bad_values}.")


def _positive(flag_name: str, values: list[int] | None) -> None:
    if any(v < 1 for v in values or ()):
        raise bad(flag_name, f"must be positive integers; got {values}.")


@app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option(help="A small subset (< 2 min on a CPU).")] = False,
    cell: Annotated[list[str] | None, typer.Option(help="GRU, LSTM, Elman (repeatable).")] = None,
    T: Annotated[
        list[int] | None, typer.Option("--T", help="Sequence lengths (repeatable).")
    ] = None,
    N: Annotated[list[int] | None, typer.Option("--N", help="State sizes (repeatable).")] = None,
    batch: Annotated[list[int] | None, typer.Option(help="Batch sizes (repeatable).")] = None,
    workload: Annotated[list[str] | None, typer.Option(help="forward, train.")] = None,
    solver: Annotated[
        list[str] | None,
        typer.Option(help="Solvers (e.g. deer, quasi-deer) and baselines (repeatable)."),
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per point.")] = 5,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            help="Results directory (default benchmarks/results; temporary with --quick)."
        ),
    ] = None,
    max_call_seconds: Annotated[
        float, typer.Option(callback=positive, help="Skip calls predicted to take longer.")
    ] = 5.0,
    max_gb: Annotated[
        float, typer.Option(callback=positive, help="Skip points needing more memory.")
    ] = 4.0,
    time_budget: Annotated[
        float | None, typer.Option(min=0.0, help="Stop starting new points after this (s).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Time every solver against Sequential, a straightforward DEER and PyTorch; JSON lines."""
    if ctx.invoked_subcommand is not None:
        return
    from ._grid import CELLS, DEFAULT_SOLVERS, FULL_BATCH, FULL_N, FULL_T, WORKLOADS, grid
    from ._run import run_bench

    _check("--cell", cell, CELLS)
    _check("--workload", workload, WORKLOADS)
    _positive("--T", T)
    _positive("--N", N)
    _positive("--batch", batch)
    chosen = _labels(solver) if solver else None
    if quick:
        Ts, Ns, batches, cells = [10_000], [16], [1], ["GRU"]
        solvers, workloads = list(QUICK_SOLVERS), list(WORKLOADS)
        repeats = min(repeats, 5)
    else:
        Ts, Ns, batches, cells = FULL_T, FULL_N, FULL_BATCH, CELLS
        solvers, workloads = DEFAULT_SOLVERS, WORKLOADS
    groups = grid(
        cells=cell or cells,
        Ts=T or Ts,
        Ns=N or Ns,
        batches=batch or batches,
        workloads=workload or workloads,
    )
    if out_dir is None:
        out_dir = (
            Path(tempfile.mkdtemp(prefix="paratime-bench-"))
            if quick
            else Path("benchmarks/results")
        )
    path = run_bench(
        groups,
        solvers=chosen or solvers,
        out_dir=out_dir,
        repeats=repeats,
        max_call_s=max_call_seconds,
        max_bytes=max_gb * 1e9,
        time_budget_s=time_budget,
        progress=progress,
    )
    _summary(path)
