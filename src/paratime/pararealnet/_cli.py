"""`paratime pararealnet ...`: train a parareal network, evaluate a stack layer-parallel, plot."""

import json
from enum import Enum
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


class Interface(str, Enum):
    coarse = "coarse"
    input = "input"


class Mode(str, Enum):
    vmap = "vmap"
    shard = "shard"


def _request_cpu_devices(count: int) -> None:
    """Ask for `count` CPU devices; only possible before JAX runs anything (else a no-op)."""
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backend already initialised (e.g. under pytest): keep what is there
        pass


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json, logs, checkpoints."),
    data: str = typer.Option("digits", help="digits (scikit-learn) or synthetic."),
    depth: int = typer.Option(32, help="Number of residual blocks L."),
    parallel: int = typer.Option(4, "--parallel", help="Number of fine sub-networks P."),
    steps: int = typer.Option(500, help="Optimiser steps (for each model)."),
    baseline: bool = typer.Option(False, help="Also train the sequential network alongside."),
    width: int = typer.Option(32, help="Feature width of the residual stream."),
    hidden: int = typer.Option(32, help="Hidden width of each fine block."),
    coarse_hidden: int = typer.Option(8, help="Hidden width of each coarse block."),
    coarse_depth: int = typer.Option(1, help="Blocks per coarse network."),
    interface: Interface = typer.Option(Interface.coarse, help="Fine inputs: coarse sweep or x."),
    mode: Mode = typer.Option(Mode.vmap, help="vmap on one device or shard over P devices."),
    batch_size: int = typer.Option(128, help="Minibatch size."),
    learning_rate: float = typer.Option(3e-3, help="Peak Adam learning rate (cosine decay)."),
    seed: int = typer.Option(0, help="Seed for initialisation and minibatches."),
    resume: bool = typer.Option(False, help="Resume from --out (same --steps)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train a ParaRealNet classifier; writes OUT/metrics.json (test_accuracy, seconds_per_step)."""
    if mode is Mode.shard:
        _request_cpu_devices(parallel)
    from ._experiment import run_experiment

    try:
        metrics = run_experiment(
            data=data,
            depth=depth,
            num_parallel=parallel,
            steps=steps,
            out=out,
            baseline=baseline,
            width=width,
            hidden=hidden,
            coarse_hidden=coarse_hidden,
            coarse_depth=coarse_depth,
            interface=interface.value,
            parallel=mode.value,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            resume=resume,
            progress=progress,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    rows = [("pararealnet", metrics["pararealnet"])]
    if "baseline" in metrics:
        rows.append(("baseline", metrics["baseline"]))
    for name, r in rows:
        typer.echo(
            f"{name:12s} test_accuracy={r['test_accuracy']:.4f} "
            f"seconds_per_step={r['seconds_per_step'] * 1e3:.2f}ms parameters={r['parameters']}"
        )
    typer.echo(f"wrote {out / 'metrics.json'}")


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
    from ._layer_parallel import compare_solvers

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
    from ._plot import plot_runs

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
    from ._timing import time_training_steps

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
