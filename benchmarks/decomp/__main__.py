"""`python -m benchmarks.decomp evidence|retime|plot` (from the repository root): the
decomposition evidence of docs/decomp.md and its figures."""

import json
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def evidence(
    task: str = typer.Option("lorenz", help="lorenz (the Lorenz-63 benchmark) or recall."),
    steps: int = typer.Option(400, help="Gradient steps for every method."),
    hidden: int = typer.Option(16),
    batch: int = typer.Option(4),
    length: int = typer.Option(512),
    windows: int = typer.Option(8),
    overlap: int = typer.Option(8),
    sharded_devices: int = typer.Option(0, help="Also time the sharded run on this many devices."),
    out: Path = typer.Option(Path("benchmarks/results/decomp-lorenz.json")),
) -> None:
    """Train BPTT, decomposition (shared / local θ) and multiple shooting; write JSON."""
    if sharded_devices:
        import jax

        jax.config.update("jax_num_cpu_devices", sharded_devices)
    from .evidence import run_evidence

    result = run_evidence(
        task,
        steps=steps,
        hidden=hidden,
        batch=batch,
        length=length,
        num_windows=windows,
        overlap=overlap,
        sharded_devices=sharded_devices,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    for name, m in result["methods"].items():
        typer.echo(
            f"{name:28s} final {m['final_loss']:.4g}  {1e3 * m['wall_time_per_grad_step_s']:.2f} "
            f"ms/step  steps to 1.1×BPTT: {m['grad_steps_to_target']}"
        )


@app.command()
def retime(
    results: list[Path] = typer.Argument(..., help="JSON files written by `evidence`."),
    calls: int = typer.Option(5),
    repeats: int = typer.Option(15),
) -> None:
    """Measure the wall time per gradient step again (more interleaved rounds); update JSON."""
    import jax

    jax.config.update("jax_num_cpu_devices", 4)
    from .evidence import retime as _retime

    for path in results:
        result = _retime(json.loads(path.read_text()), calls=calls, repeats=repeats)
        path.write_text(json.dumps(result, indent=1))
        for name, m in result["methods"].items():
            typer.echo(f"{path.stem} {name:28s} {1e3 * m['wall_time_per_grad_step_s']:.2f} ms")


@app.command()
def plot(
    results: list[Path] = typer.Argument(..., help="JSON files written by `evidence`."),
    out_dir: Path = typer.Option(Path("docs/figures")),
) -> None:
    """Draw `decomp_<task>_*.png` from evidence JSON files."""
    from .figures import plot_evidence

    for path in results:
        for written in plot_evidence(json.loads(path.read_text()), out_dir):
            typer.echo(str(written))


if __name__ == "__main__":
    app()
