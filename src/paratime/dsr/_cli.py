"""`paratime dsr train|eval|generate`: dynamical-systems reconstruction from the shell."""

import json
from pathlib import Path
from typing import Annotated, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)

CONFIG = "config.json"
SOLVERS = ("auto", "deer", "quasideer", "elk", "sequential")
# Options that may change on --resume: more steps, or another solver of the same recurrence.
_RESUMABLE = ("steps", "solver")


def _solver(name: str):
    import paratime

    table = {
        "auto": paratime.Auto,
        "deer": paratime.DEER,
        "quasideer": paratime.QuasiDEER,
        "elk": paratime.ELK,
        "sequential": paratime.Sequential,
    }
    if name not in table:
        raise typer.BadParameter(f"--solver must be one of {', '.join(SOLVERS)}; got {name!r}.")
    return table[name]()


def _load(source: str, *, min_length: int | None = None) -> np.ndarray:
    from paratime.data import check_series, load_series

    try:
        x = load_series(source)
        return check_series(x, name=str(source), min_length=min_length)
    except (ValueError, FileNotFoundError, OSError) as e:
        raise typer.BadParameter(str(e), param_hint="--data") from e


def _gtf_value(gtf: str) -> float | str:
    if gtf == "adaptive":
        return gtf
    try:
        value = float(gtf)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"--gtf must be 'adaptive' or a number in [0, 1]; got {gtf!r}.")
    return value


def _restore(run: Path) -> tuple[dict[str, Any], Any]:
    """The run's config and its trained `DSRState`, rebuilt from `config.json` + checkpoint."""
    from paratime.train import load_checkpoint

    from ._build import build_model
    from ._train import DSRState, make_optimizer

    cfg_path, ckpt = run / CONFIG, run / "checkpoint.eqx"
    if not cfg_path.exists() or not ckpt.exists():
        raise typer.BadParameter(f"{run} is not a finished `paratime dsr train` run directory.")
    cfg = json.loads(cfg_path.read_text())
    key = jax.random.key(cfg["seed"])
    kmodel, ktrain = jax.random.split(key)
    model = build_model(
        cfg["model"],
        cfg["data_size"],
        latent=cfg["latent"],
        hidden=cfg["hidden"],
        observation=cfg["observation"],
        num_relu=cfg["num_relu"],
        key=kmodel,
    )
    opt = make_optimizer(cfg["lr"], cfg["steps"])
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    like = DSRState(model, opt_state, jax.random.key_data(ktrain), jnp.zeros(()))
    state, _, _ = load_checkpoint(ckpt, like)
    return cfg, state


def _history(run: Path) -> list[dict[str, Any]]:
    log = run / "metrics.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@app.command("train")
def train_cmd(
    data: Annotated[str, typer.Option(help="Training series: a .npy/.csv path or a name.")],
    out: Annotated[Path, typer.Option(help="Run directory (checkpoint, logs, plots).")],
    model: Annotated[str, typer.Option(help="shplrnn|clipped-shplrnn|plrnn|alrnn|lru")] = "shplrnn",
    latent: Annotated[int, typer.Option(help="Latent size M.")] = 3,
    hidden: Annotated[int, typer.Option(help="Hidden width H.")] = 200,
    observation: Annotated[str, typer.Option(help="identity|affine")] = "identity",
    num_relu: Annotated[int | None, typer.Option(help="ALRNN: ReLU units P.")] = None,
    seq_len: Annotated[int, typer.Option(help="Training subsequence length.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Subsequences per step.")] = 16,
    gtf: Annotated[str, typer.Option(help="'adaptive' or a constant α in [0, 1].")] = "adaptive",
    solver: Annotated[str, typer.Option(help="auto|deer|quasideer|elk|sequential")] = "auto",
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 1000,
    lr: Annotated[float, typer.Option(help="Initial RAdam learning rate.")] = 1e-3,
    alpha0: Annotated[float, typer.Option(help="aGTF: smallest initial α.")] = 0.1,
    alpha_every: Annotated[int, typer.Option(help="aGTF: update α every k steps.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="Checkpoint period.")] = 100,
    resume: Annotated[bool, typer.Option(help="Continue from DIR/checkpoint.eqx.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a DSR model with (adaptive) generalized teacher forcing, in parallel over time."""
    from ._build import build_model
    from ._plots import plot_curves
    from ._train import fit

    x = _load(data, min_length=seq_len)
    cfg = {
        "data": data,
        "data_size": int(x.shape[1]),
        "model": model,
        "latent": latent,
        "hidden": hidden,
        "observation": observation,
        "num_relu": num_relu,
        "seq_len": seq_len,
        "batch_size": batch_size,
        "gtf": gtf,
        "solver": solver,
        "steps": steps,
        "lr": lr,
        "alpha0": alpha0,
        "alpha_every": alpha_every,
        "seed": seed,
    }
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / CONFIG
    if resume and cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        changed = [k for k in cfg if k not in _RESUMABLE and old.get(k) != cfg[k]]
        if changed:
            raise typer.BadParameter(f"--resume with different options: {', '.join(changed)}.")
    cfg_path.write_text(json.dumps(cfg, indent=2))
    kmodel, ktrain = jax.random.split(jax.random.key(seed))
    try:
        net = build_model(
            model,
            cfg["data_size"],
            latent=latent,
            hidden=hidden,
            observation=observation,
            num_relu=num_relu,
            key=kmodel,
        )
        state, history = fit(
            net,
            jnp.asarray(x, jnp.result_type(float)),
            steps=steps,
            seq_len=seq_len,
            key=ktrain,
            gtf=_gtf_value(gtf),
            batch_size=batch_size,
            solver=_solver(solver),
            learning_rate=lr,
            alpha0=alpha0,
            alpha_every=alpha_every,
            out_dir=out,
            resume=resume,
            checkpoint_every=checkpoint_every,
            progress=progress,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    plot_curves(history, out / "curves.png")
    last = history[-1] if history else {}
    typer.echo(
        f"trained {steps} steps: loss={last.get('loss', float('nan')):.4g} "
        f"alpha={float(state.alpha):.3f}; run in {out}"
    )


@app.command("eval")
def eval_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory of `paratime dsr train`.")],
    data: Annotated[str, typer.Option(help="Test series: a .npy/.csv path or a name.")],
    pe_steps: Annotated[int, typer.Option(help="n of PE(n).")] = 20,
) -> None:
    """Evaluate a trained model: D_stsp, D_H, PE(20) into DIR/metrics.json, plus plots."""
    from ._evaluate import evaluate
    from ._plots import save_run_plots

    cfg, state = _restore(run)
    test = _load(data, min_length=200)
    if test.shape[1] != cfg["data_size"]:
        raise typer.BadParameter(
            f"the test data has {test.shape[1]} dimensions; the model was trained on "
            f"{cfg['data_size']}.",
            param_hint="--data",
        )
    results, x_gen = evaluate(
        state.model, jnp.asarray(test, jnp.result_type(float)), pe_steps=pe_steps
    )
    (run / "metrics.json").write_text(json.dumps(results, indent=2))
    save_run_plots(run, _history(run), test, x_gen)
    for k, v in results.items():
        typer.echo(f"{k} = {v:.4g}")


@app.command("generate")
def generate_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory of `paratime dsr train`.")],
    steps: Annotated[int, typer.Option(help="Length T of the trajectory.")],
    out: Annotated[Path, typer.Option(help="Output .npy file, shape (T, d).")],
    x0: Annotated[Path | None, typer.Option(help=".npy start: (d,) or (W, d).")] = None,
) -> None:
    """Write a free-running trajectory of the trained model (observation space)."""
    from ._evaluate import BURN_IN, generate

    if steps < 1:
        raise typer.BadParameter("--steps must be positive.")
    cfg, state = _restore(run)
    if x0 is None:
        context = _load(cfg["data"])[-(BURN_IN + 1) :]
    else:
        context = np.atleast_2d(np.load(x0))
        if context.ndim != 2 or context.shape[1] != cfg["data_size"]:
            raise typer.BadParameter(
                f"--x0 must have shape (d,) or (W, d) with d={cfg['data_size']}; "
                f"got {context.shape}.",
            )
    traj = generate(state.model, jnp.asarray(context, jnp.result_type(float)), steps)
    np.save(out, traj.astype(np.float32))
    typer.echo(f"wrote {out} with shape {traj.shape}")
