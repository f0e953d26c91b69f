"""`paratime lm train` and `paratime lm generate`: a byte-level language model."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _fail(message: str) -> None:
    """Print one line to stderr and exit with status 2."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def _force_cpu_devices(count: int) -> None:
    """Ask for `count` CPU devices (possible only before JAX starts its backends)."""
    import jax

    if count > 1 and jax.default_backend() == "cpu" and jax.device_count() < count:
        _fail(
            f"{count} devices requested; {jax.device_count()} available. On a CPU start with "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={count}."
        )


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Run folder (config, checkpoint, metrics).")] = Path(
        "runs/lm"
    ),
    config: Annotated[
        Path | None, typer.Option(help="A TOML config; flags given here override it.")
    ] = None,
    data: Annotated[str | None, typer.Option(help="'stdlib' or a folder or text file.")] = None,
    cell: Annotated[str | None, typer.Option(help="The cell of every block.")] = None,
    dim: Annotated[int | None, typer.Option(help="Width of the residual stream.")] = None,
    hidden_size: Annotated[int | None, typer.Option(help="State size of the cells.")] = None,
    depth: Annotated[int | None, typer.Option(help="Number of blocks.")] = None,
    context: Annotated[int | None, typer.Option(help="Bytes per training sequence.")] = None,
    batch: Annotated[int | None, typer.Option(help="Sequences per step.")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps in total.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    solver: Annotated[
        str | None, typer.Option(help="deer, quasi-deer, sequential or auto.")
    ] = None,
    warm_start: Annotated[
        bool | None, typer.Option(help="Carry trajectories across steps as Newton guesses.")
    ] = None,
    file_resets: Annotated[
        bool | None, typer.Option(help="Restart the state where a file begins in a window.")
    ] = None,
    batch_devices: Annotated[int | None, typer.Option(help="Devices along the batch.")] = None,
    time_devices: Annotated[int | None, typer.Option(help="Devices along time.")] = None,
    eval_every: Annotated[int | None, typer.Option(help="Held-out evaluation period.")] = None,
    seed: Annotated[int | None, typer.Option(help="Initialisation and batch order.")] = None,
    dtype: Annotated[str | None, typer.Option(help="float32 or float64.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a byte-level language model; report bits per byte on held-out files."""
    from ._config import LMConfig
    from ._train import CONFIG, train_lm

    try:
        if config is not None:
            base = LMConfig.from_toml(config)
        elif resume and (out / CONFIG).exists():
            base = LMConfig.from_toml(out / CONFIG)
        else:
            base = LMConfig()
        cfg = base.replace(
            data=data,
            cell=cell,
            dim=dim,
            hidden_size=hidden_size,
            depth=depth,
            context=context,
            batch=batch,
            steps=steps,
            learning_rate=learning_rate,
            solver=solver,
            warm_start=warm_start,
            file_resets=file_resets,
            batch_devices=batch_devices,
            time_devices=time_devices,
            eval_every=eval_every,
            seed=seed,
            dtype=dtype,
        )
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
        return
    _force_cpu_devices(cfg.batch_devices * cfg.time_devices)
    try:
        _, history = train_lm(cfg, out, resume=resume, progress=progress)
    except (ValueError, FloatingPointError) as e:
        _fail(str(e))
        return
    last = history[-1] if history else {}
    summary = {k: last.get(k) for k in ("step", "bpb", "test_bpb")}
    typer.echo(json.dumps({"out": str(out), **summary}))


@app.command()
def generate(
    run: Annotated[Path, typer.Argument(help="A `paratime lm train` run folder.")],
    prompt: Annotated[str, typer.Option(help="The text to continue.")] = "def ",
    length: Annotated[int, typer.Option("--bytes", help="How many bytes to sample.")] = 400,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Continue a prompt with a trained model, one byte after another."""
    import jax

    from ._train import generate as sample, load_run

    try:
        _, model = load_run(run)
        out = sample(
            model,
            prompt.encode(),
            length,
            key=jax.random.key(seed),
            temperature=temperature,
        )
    except ValueError as e:
        _fail(str(e))
        return
    sys.stdout.write(prompt + out.decode("utf-8", errors="replace") + "\n")
