"""`paratime elm fit`: fit one ELM on a series and save the model and its metrics."""

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from ..cli._common import check_out_dir, flag, new_app, set_x64, store_config
from ..cli._options import config_options
from ..train._atomic import atomic_write_text
from ._config import FitConfig

app = new_app()


@app.callback()
def _group() -> None:
    """Non-iterative ELM training of six RNN architectures."""


@app.command("fit")
@config_options(FitConfig)
def fit_command(
    cfg: FitConfig,
    out: Annotated[Path, typer.Option(help="Folder for model.eqx, metrics.json, config.toml.")],
) -> None:
    """Fit one ELM, print its test RMSE and training time, save the model and metrics."""
    check_out_dir(out)
    set_x64(cfg.x64)
    import jax

    from ._data import load_task
    from ._evaluate import evaluate
    from ._io import save_model
    from ._model import fit, prepare

    with flag("--data"):
        task = load_task(cfg.data, max_length=cfg.max_length or None)
    with flag("--window"):
        prepared = prepare(
            task, cfg.window, test_fraction=cfg.test_fraction, val_fraction=cfg.val_fraction
        )
    t0 = time.perf_counter()
    model, info = fit(prepared, cfg, key=jax.random.key(cfg.seed))
    wall = time.perf_counter() - t0
    metrics = evaluate(model, prepared, horizon=cfg.horizon)
    store_config(out, cfg, resume=False)
    save_model(out / "model.eqx", model, **cfg.cell_options())
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
