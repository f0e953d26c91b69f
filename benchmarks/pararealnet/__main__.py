"""`python -m benchmarks.pararealnet layer-parallel|time|plot` (from the repository root):
the measurements and the figure of docs/pararealnet.md."""

import json
from pathlib import Path

import typer

from paratime.cli._common import request_cpu_devices as _request_cpu_devices

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("layer-parallel")
def layer_parallel(
    out: Path = typer.Option(..., "--out", help="JSON file for the results."),
    depth: int = typer.Option(64, help="Number of residual blocks L (the 'time' axis)."),
    width: int = typer.Option(16, help="Feature width."),
    hidden: int = typer.Option(32, help="Hidden width of each block."),
    batch: int = typer.Option(32, help="Batch size."),
    repeats: int = typer.Option(5, help="Timed repetitions (after one compiling call)."),
) -> None:
    """Evaluate a deep residual stack with paratime.unroll (DEER, Parareal) vs a sequential scan."""
    from .layer_parallel import compare_solvers

    result = compare_solvers(depth=depth, width=width, hidden=hidden, batch=batch, repeats=repeats)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in result["solvers"].items():
        typer.echo(f"{name:10s} max|Δ|={r['max_abs_error']:.2e} time={r['seconds'] * 1e3:.2f}ms")
    typer.echo(f"wrote {out}")


@app.command()
def plot(
    results: list[Path] = typer.Argument(..., help="metrics.json files of runs to plot."),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    timing: Path | None = typer.Option(None, help="Result of `time` for the step-time panel."),
) -> None:
    """Plot test accuracy and seconds per step against P from several `train` runs."""
    from .figures import plot_runs

    timing_result = json.loads(timing.read_text()) if timing is not None else None
    plot_runs([json.loads(p.read_text()) for p in results], out, timing=timing_result)
    typer.echo(f"wrote {out}")


@app.command("time")
def time_steps(
    out: Path = typer.Option(..., "--out", help="JSON file for the results."),
    data: str = typer.Option("digits", help="digits (scikit-learn) or synthetic."),
    depth: int = typer.Option(32, help="Number of residual blocks L."),
    parallel: list[int] = typer.Option([1, 2, 4, 8], help="P values to time with vmap."),
    shard: list[int] = typer.Option([2, 4], help="P values to time sharded over P devices."),
    width: int = typer.Option(32, help="Feature width."),
    hidden: int = typer.Option(32, help="Hidden width of each fine block."),
    coarse_hidden: int = typer.Option(8, help="Hidden width of each coarse block."),
    batch_size: int = typer.Option(128, help="Minibatch size."),
    steps_per_round: int = typer.Option(20, help="Steps per model per round."),
    rounds: int = typer.Option(15, help="Interleaved rounds."),
) -> None:
    """Time one training step of each model, interleaved (fair on a busy machine)."""
    if shard:
        _request_cpu_devices(max(shard))
    from .timing import time_training_steps

    result = time_training_steps(
        data=data,
        depth=depth,
        parallel=tuple(parallel),
        shard=tuple(shard),
        width=width,
        hidden=hidden,
        coarse_hidden=coarse_hidden,
        batch_size=batch_size,
        steps_per_round=steps_per_round,
        rounds=rounds,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in result["models"].items():
        typer.echo(
            f"{name:24s} median={r['median_seconds_per_step'] * 1e3:7.2f}ms "
            f"min={r['min_seconds_per_step'] * 1e3:7.2f}ms params={r['parameters']}"
        )
    typer.echo(f"wrote {out}")


if __name__ == "__main__":
    app()
