"""`paratime lm train` and `paratime lm generate`: a byte-level language model."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..cli._common import bad, flag, new_app, request_cpu_devices
from ..cli._options import config_options
from ._config import LMConfig

app = new_app()


@app.callback()
def _group() -> None:
    """Byte-level language models on the Python standard library."""


def _stored_config(out: Path, resume: bool, **_) -> Path | None:
    """Without `--config`, a resumed run starts from its stored config."""
    from ._train import CONFIG

    return out / CONFIG if resume and (out / CONFIG).is_file() else None


@app.command()
@config_options(LMConfig, fallback=_stored_config)
def train(
    cfg: LMConfig,
    out: Annotated[Path, typer.Option(help="Run folder (config, checkpoint, metrics).")] = Path(
        "runs/lm"
    ),
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a byte-level language model; report bits per byte on held-out files."""
    import jax

    from ._train import train_lm

    count = cfg.batch_devices * cfg.time_devices
    request_cpu_devices(count)
    if jax.device_count() < count:
        raise bad(
            "--time-devices" if cfg.time_devices > 1 else "--batch-devices",
            f"{count} devices requested; {jax.device_count()} available. On a CPU start with "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={count}.",
        )
    _, history = train_lm(cfg, out, resume=resume, progress=progress)
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

    with flag("RUN"):
        _, model = load_run(run)
    with flag("--temperature"):
        out = sample(
            model, prompt.encode(), length, key=jax.random.key(seed), temperature=temperature
        )
    sys.stdout.write(prompt + out.decode("utf-8", errors="replace") + "\n")
