"""`paratime elm fit`: fit one ELM on a series and save the model and its metrics."""

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from .._names import SolverName, make_solver
from ..cli._common import (
    bad,
    check_out_dir,
    data_help,
    flag,
    fraction,
    new_app,
    positive,
    resolve_config,
    set_x64,
    store_config,
)
from ..train._atomic import atomic_write_text
from ._config import FitConfig

app = new_app()


@app.callback()
def _group() -> None:
    """Non-iterative ELM training of six RNN architectures."""


def load_task(name: str, *, max_length: int | None = None):
    """A named dataset (`paratime.data.load`, plus "narma10") or a file, as an ELM `Task`."""
    from .. import data as datasets
    from ._data import autoregressive_task, io_task

    if name == "narma10":
        u, y = datasets.narma10(2000 if max_length is None else max_length, key=0)
        return io_task(u, y, name=name)
    x = datasets.load(name)
    if max_length is not None:
        x = x[:max_length]
    return autoregressive_task(x, name=name)


@app.command("fit")
def fit_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder for model.eqx, metrics.json, config.toml.")],
    data: Annotated[
        str | None,
        typer.Option(help=data_help("The series", "narma10")),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="A TOML file of these settings; flags override it.")
    ] = None,
    arch: Annotated[
        str, typer.Option(help="elman | jordan | narmax | fully-connected | lstm | gru.")
    ] = "gru",
    hidden: Annotated[int, typer.Option(min=1, help="Hidden units.")] = 100,
    window: Annotated[int, typer.Option(min=1, help="Time steps per window.")] = 20,
    lam: Annotated[
        str,
        typer.Option(
            help="Ridge λ: 'multistep' (by the 20-step closed-loop validation error), 'gcv', "
            "'validation' or a number."
        ),
    ] = "multistep",
    method: Annotated[str, typer.Option(help="Least squares: qr | cholesky | svd.")] = "qr",
    solver: Annotated[
        SolverName, typer.Option(help="Solver that builds the hidden states H.")
    ] = SolverName.sequential,
    direct: Annotated[bool, typer.Option(help="Direct input-to-output links.")] = True,
    spectral_radius: Annotated[
        float, typer.Option(callback=positive, help="Spectral radius of recurrent weights.")
    ] = 0.9,
    input_scaling: Annotated[
        float, typer.Option(callback=positive, help="Input weights are U(-s, s).")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    test_fraction: Annotated[float, typer.Option(callback=fraction, help="Held-out tail.")] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Validation part before the tail.")
    ] = 0.1,
    horizon: Annotated[int, typer.Option(min=1, help="Steps of the closed-loop forecast.")] = 20,
    max_length: Annotated[int, typer.Option(min=0, help="Use the first N steps (0: all).")] = 0,
    x64: Annotated[bool, typer.Option(help="Compute in float64.")] = True,
) -> None:
    """Fit one ELM, print its test RMSE and training time, save the model and metrics."""
    values = dict(
        data=data, arch=arch, hidden=hidden, window=window, lam=lam, method=method,
        solver=solver, direct=direct, spectral_radius=spectral_radius,
        input_scaling=input_scaling, seed=seed, test_fraction=test_fraction,
        val_fraction=val_fraction, horizon=horizon, max_length=max_length, x64=x64,
    )  # fmt: skip
    if data is None and config is None:
        raise bad("--data", "is required (on the command line or in the --config file).")
    check_out_dir(out)
    cfg = resolve_config(ctx, FitConfig, config, values)
    set_x64(cfg.x64)
    import jax

    from ._evaluate import evaluate
    from ._io import save_model
    from ._model import fit, prepare

    with flag("--data"):
        task = load_task(cfg.data, max_length=cfg.max_length or None)
    with flag("--window"):
        prepared = prepare(
            task, cfg.window, test_fraction=cfg.test_fraction, val_fraction=cfg.val_fraction
        )
    options = {"spectral_radius": cfg.spectral_radius, "input_scaling": cfg.input_scaling}
    t0 = time.perf_counter()
    model, info = fit(
        prepared, arch=cfg.arch, hidden=cfg.hidden, key=jax.random.key(cfg.seed),
        lam=cfg.lam_value(), method=cfg.method, direct=cfg.direct,
        solver=make_solver(cfg.solver), **options,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    metrics = evaluate(model, prepared, horizon=cfg.horizon)
    store_config(out, cfg, resume=False)
    save_model(out / "model.eqx", model, **options)
    record = {
        **metrics,
        "train_seconds": info["train_seconds"],
        "wall_seconds_with_compile": wall,
        "lam": info["lam"],
        "condition_number": info["condition_number"],
        "config": cfg.to_dict(),
    }
    atomic_write_text(out / "metrics.json", json.dumps(record, indent=2) + "\n")
    typer.echo(
        f"{cfg.arch} on {cfg.data}: test RMSE {metrics['rmse']:.4g} "
        f"(NRMSE {metrics['nrmse']:.3g}), {metrics.get('horizon', 0)}-step closed-loop RMSE "
        f"{metrics['rmse_multistep']:.4g}; train {info['train_seconds']:.3g} s (with "
        f"compilation {wall:.3g} s); λ={info['lam']:.3g}"
    )
    typer.echo(f"saved {out / 'model.eqx'}, {out / 'metrics.json'} and {out / 'config.toml'}")
