"""`paratime pararealnet train`: train a parareal network (and its sequential baseline)."""

from pathlib import Path
from typing import Annotated

import typer

from ..cli._common import bad, check_out_dir, new_app, request_cpu_devices, store_config
from ..cli._options import config_options
from ._config import TrainConfig

app = new_app()


@app.callback()
def _group() -> None:
    """Parareal neural networks (layers as time)."""


@app.command()
@config_options(TrainConfig)
def train(
    cfg: TrainConfig,
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, logs, checkpoints.")],
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out (it must exist, same settings).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a ParaRealNet classifier; writes OUT/metrics.json (test_accuracy, seconds_per_step)."""
    check_out_dir(out)
    if resume and not (out / "pararealnet").is_dir():
        raise bad("--resume", f"{out} holds no run to resume; leave out --resume to start one.")
    store_config(out, cfg, resume=resume)
    if cfg.mode == "shard":
        request_cpu_devices(cfg.parallel)
    from ._train import train_run

    metrics = train_run(cfg, out, resume=resume, progress=progress)
    rows = [("pararealnet", metrics["pararealnet"])]
    if "baseline" in metrics:
        rows.append(("baseline", metrics["baseline"]))
    for name, r in rows:
        typer.echo(
            f"{name:12s} test_accuracy={r['test_accuracy']:.4f} "
            f"seconds_per_step={r['seconds_per_step'] * 1e3:.2f}ms parameters={r['parameters']}"
        )
    typer.echo(f"wrote {out / 'metrics.json'}")
