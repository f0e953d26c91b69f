"""`paratime bench`: run the benchmark sweep, print a summary, regenerate docs/benchmarks.md."""

import tempfile
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=False, add_completion=False)

QUICK_SOLVERS = ("Sequential", "DEER", "QuasiDEER", "Auto", "naive-DEER", "DEER+warm")


def _summary(path: Path) -> None:
    from ._report import _fmt_t, load_results

    records = [r for r in load_results([path]) if "experiment" not in r]
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


@app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    quick: bool = typer.Option(False, "--quick", help="A small subset (< 2 min on a CPU)."),
    cell: list[str] = typer.Option(None, "--cell", help="GRU, LSTM, Elman (repeatable)."),
    T: list[int] = typer.Option(None, "--T", help="Sequence lengths (repeatable)."),
    N: list[int] = typer.Option(None, "--N", help="State sizes (repeatable)."),
    batch: list[int] = typer.Option(None, "--batch", help="Batch sizes (repeatable)."),
    workload: list[str] = typer.Option(None, "--workload", help="forward, train."),
    solver: list[str] = typer.Option(None, "--solver", help="Solvers/baselines (repeatable)."),
    repeats: int = typer.Option(5, help="Timed runs per point after the warm-up."),
    out_dir: Path = typer.Option(
        None, help="Results directory (default benchmarks/results; a temporary one with --quick)."
    ),
    max_call_seconds: float = typer.Option(5.0, help="Skip calls predicted to take longer."),
    max_gb: float = typer.Option(4.0, help="Skip points whose compiled peak memory is larger."),
    time_budget: float = typer.Option(None, help="Stop starting new points after this (s)."),
    report: bool = typer.Option(False, help="Regenerate docs/benchmarks.md afterwards."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Benchmark every solver against Sequential, a straightforward DEER and PyTorch."""
    if ctx.invoked_subcommand is not None:
        return
    from ._grid import CELLS, DEFAULT_SOLVERS, FULL_BATCH, FULL_N, FULL_T, WORKLOADS, grid
    from ._run import run_bench

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
        solvers=solver or solvers,
        out_dir=out_dir,
        repeats=repeats,
        max_call_s=max_call_seconds,
        max_bytes=max_gb * 1e9,
        time_budget_s=time_budget,
        progress=progress,
    )
    _summary(path)
    if report:
        _write_docs([Path("benchmarks/results")], Path("docs/benchmarks.md"))


def _write_docs(results: list[Path], docs: Path) -> None:
    from ._notes import NOTES
    from ._report import load_results, write_report

    path = write_report(load_results(results), docs, figures=docs.parent / "figures", notes=NOTES)
    typer.echo(f"wrote {path}")


@app.command("report")
def report_cmd(
    results: list[Path] = typer.Argument(None, help="Results files or directories."),
    docs: Path = typer.Option(Path("docs/benchmarks.md"), help="The markdown file to write."),
) -> None:
    """Regenerate docs/benchmarks.md and docs/figures/bench_*.png from the results files."""
    _write_docs(results or [Path("benchmarks/results")], docs)


@app.command("ablation")
def ablation_cmd(
    out_dir: Path = typer.Option(Path("benchmarks/results"), help="Results directory."),
    repeats: int = typer.Option(7, help="Timed runs per variant."),
    only: list[str] = typer.Option([], help="Only the experiments of these names (repeatable)."),
) -> None:
    """Measure each optimisation technique against its alternative (side by side)."""
    from ._ablation import run_ablation

    typer.echo(f"results: {run_ablation(out_dir, repeats=repeats, only=only or None)}")
