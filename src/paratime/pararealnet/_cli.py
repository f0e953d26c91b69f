"""`paratime pararealnet train`: train a parareal network (and its sequential baseline)."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..cli._common import bad, check_out_dir, new_app, positive, resolve_config, store_config
from ._config import TrainConfig

app = new_app()


@app.callback()
def _group() -> None:
    """Parareal neural networks (layers as time)."""


class Interface(str, Enum):
    coarse = "coarse"
    input = "input"


class Mode(str, Enum):
    vmap = "vmap"
    shard = "shard"


class Data(str, Enum):
    digits = "digits"
    synthetic = "synthetic"


def request_cpu_devices(count: int) -> None:
    """Ask for `count` CPU devices; only possible before JAX runs anything (else a no-op)."""
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backend already initialised (e.g. under pytest): keep what is there
        pass


@app.command()
def train(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, logs, checkpoints.")],
    config: Annotated[
        Path | None, typer.Option(help="A TOML file of these settings; flags override it.")
    ] = None,
    data: Annotated[Data, typer.Option(help="digits (scikit-learn) or synthetic.")] = Data.digits,
    depth: Annotated[int, typer.Option(min=1, help="Number of residual blocks L.")] = 32,
    parallel: Annotated[int, typer.Option(min=1, help="Number of fine sub-networks P.")] = 4,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps (for each model).")] = 500,
    baseline: Annotated[bool, typer.Option(help="Also train the sequential network.")] = False,
    width: Annotated[int, typer.Option(min=1, help="Feature width of the residual stream.")] = 32,
    hidden: Annotated[int, typer.Option(min=1, help="Hidden width of each fine block.")] = 32,
    coarse_hidden: Annotated[int, typer.Option(min=1, help="Hidden width of a coarse block.")] = 8,
    coarse_depth: Annotated[int, typer.Option(min=1, help="Blocks per coarse network.")] = 1,
    interface: Annotated[
        Interface, typer.Option(help="Fine inputs: coarse sweep or x.")
    ] = Interface.coarse,
    mode: Annotated[Mode, typer.Option(help="vmap on one device or shard over P.")] = Mode.vmap,
    batch_size: Annotated[int, typer.Option(min=1, help="Minibatch size.")] = 128,
    learning_rate: Annotated[
        float, typer.Option(callback=positive, help="Peak Adam learning rate.")
    ] = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and minibatches.")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out (it must exist, same settings).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a ParaRealNet classifier; writes OUT/metrics.json (test_accuracy, seconds_per_step)."""
    values = dict(
        data=data, depth=depth, parallel=parallel, steps=steps, baseline=baseline, width=width,
        hidden=hidden, coarse_hidden=coarse_hidden, coarse_depth=coarse_depth,
        interface=interface, mode=mode, batch_size=batch_size, learning_rate=learning_rate,
        seed=seed,
    )  # fmt: skip
    check_out_dir(out)
    cfg = resolve_config(ctx, TrainConfig, config, values)
    if resume and not (out / "pararealnet").is_dir():
        raise bad("--resume", f"{out} holds no run to resume; leave out --resume to start one.")
    store_config(out, cfg, resume=resume)
    if cfg.mode == "shard":
        request_cpu_devices(cfg.parallel)
    from ._train import run_experiment

    metrics = run_experiment(
        data=cfg.data,
        depth=cfg.depth,
        num_parallel=cfg.parallel,
        steps=cfg.steps,
        out=out,
        baseline=cfg.baseline,
        width=cfg.width,
        hidden=cfg.hidden,
        coarse_hidden=cfg.coarse_hidden,
        coarse_depth=cfg.coarse_depth,
        interface=cfg.interface,
        parallel=cfg.mode,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
        resume=resume,
        progress=progress,
    )
    rows = [("pararealnet", metrics["pararealnet"])]
    if "baseline" in metrics:
        rows.append(("baseline", metrics["baseline"]))
    for name, r in rows:
        typer.echo(
            f"{name:12s} test_accuracy={r['test_accuracy']:.4f} "
            f"seconds_per_step={r['seconds_per_step'] * 1e3:.2f}ms parameters={r['parameters']}"
        )
    typer.echo(f"wrote {out / 'metrics.json'}")
