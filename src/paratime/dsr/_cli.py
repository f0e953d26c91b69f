"""`paratime dsr train|eval|generate`: dynamical-systems reconstruction from the shell."""

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import typer

from .._names import SolverName, make_solver
from ..cli._common import (
    bad,
    check_out_dir,
    data_help,
    flag,
    load_data,
    new_app,
    positive,
    resolve_config,
    store_config,
)
from ._config import TrainConfig

app = new_app()


class Checkpoint(str, enum.Enum):
    """Which model of a run `eval` and `generate` use."""

    best = "best"
    last = "last"


CONFIG = "config.toml"


@app.callback()
def _group() -> None:
    """Dynamical-systems reconstruction with GTF (PLRNN family)."""


def _read_config(run: Path) -> TrainConfig:
    """The resolved config of a run directory (`config.toml`; `config.json` of older runs)."""
    if (run / CONFIG).is_file():
        with flag("RUN"):
            return TrainConfig.from_toml(run / CONFIG)
    if (run / "config.json").is_file():
        with flag("RUN"):
            values = json.loads((run / "config.json").read_text())
            values["gtf"] = str(values["gtf"])
            values["solver"] = {"quasideer": "quasi-deer"}.get(values["solver"], values["solver"])
            return TrainConfig(**values)
    raise bad("RUN", f"{str(run)!r} is not a `paratime dsr train` run directory (no {CONFIG}).")


def _build(cfg: TrainConfig, key):
    from ._build import build_model

    assert cfg.data_size is not None and cfg.latent is not None
    return build_model(
        cfg.model,
        cfg.data_size,
        latent=cfg.latent,
        hidden=cfg.hidden,
        observation=cfg.observation,
        num_relu=cfg.num_relu,
        key=key,
    )


def _restore(run: Path, which: str = "last") -> tuple[TrainConfig, Any, int, str]:
    """The run's config, a trained `DSRState`, its step and which checkpoint it is (`"best"` or
    `"last"`), from the config + a checkpoint.

    `which="best"` loads `best.eqx` (the model selected on the validation segment); a run
    without one (trained before model selection, or with `--validation 0`) falls back to the
    last checkpoint with a note on stderr. `"last"` loads `checkpoint.eqx`.
    """
    from paratime.train import CheckpointError, load_checkpoint

    from ._select import BEST
    from ._train import DSRState, make_optimizer

    cfg = _read_config(run)
    ckpt = run / "checkpoint.eqx"
    if not ckpt.exists():
        raise bad("RUN", f"{str(run)!r} has no checkpoint.eqx: its training never saved one.")
    if which == "best":
        if (run / BEST).is_file():
            ckpt = run / BEST
        else:
            typer.echo(
                f"note: {str(run)!r} has no {BEST} (a run from before model selection, or "
                "trained with --validation 0): using the last checkpoint.",
                err=True,
            )
    kmodel, ktrain = jax.random.split(jax.random.key(cfg.seed))
    model = _build(cfg, kmodel)
    opt = make_optimizer(cfg.lr, cfg.steps)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    like = DSRState(model, opt_state, jax.random.key_data(ktrain), jnp.zeros(()))
    try:
        state, step, _ = load_checkpoint(ckpt, like)
    except CheckpointError as e:
        other = "--checkpoint last" if ckpt.name == BEST else "--checkpoint best"
        raise bad("RUN", f"{e} Or use the other model of the run: {other}.") from None
    except ValueError as e:  # a checkpoint of an older run: no model-selection fields
        legacy = (like.model, like.opt_state, like.key, like.alpha)
        try:
            (model, opt_state, key, alpha), step, _ = load_checkpoint(ckpt, legacy)
        except ValueError:
            raise e from None
        state = DSRState(model, opt_state, key, alpha)
    return cfg, state, step, "best" if ckpt.name == BEST else "last"


def _history(run: Path) -> list[dict[str, Any]]:
    log = run / "metrics.jsonl"
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line of a killed run
            continue
    return out


@app.command("train")
def train_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Run directory (checkpoint, logs, plots).")],
    data: Annotated[str | None, typer.Option(help=data_help("Training series"))] = None,
    config: Annotated[
        Path | None, typer.Option(help="A TOML file of these settings; flags override it.")
    ] = None,
    model: Annotated[str, typer.Option(help="shplrnn|clipped-shplrnn|plrnn|alrnn|lru")] = "shplrnn",
    latent: Annotated[
        int | None, typer.Option(help="Latent size M (default: the data's dimension).")
    ] = None,
    hidden: Annotated[int, typer.Option(min=1, help="Hidden width H.")] = 200,
    observation: Annotated[str, typer.Option(help="identity|affine")] = "identity",
    num_relu: Annotated[int | None, typer.Option(min=1, help="ALRNN: ReLU units P.")] = None,
    seq_len: Annotated[int, typer.Option(min=2, help="Training subsequence length.")] = 200,
    batch_size: Annotated[int, typer.Option(min=1, help="Subsequences per step.")] = 16,
    gtf: Annotated[str, typer.Option(help="'adaptive' or a constant α in [0, 1].")] = "adaptive",
    solver: Annotated[SolverName, typer.Option(help="Solver of the recurrence.")] = SolverName.auto,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 5000,
    lr: Annotated[
        float, typer.Option(callback=positive, help="Initial RAdam learning rate.")
    ] = 1e-3,
    lr_final: Annotated[
        float | None,
        typer.Option(callback=positive, help="Learning rate at the last step (default lr/10)."),
    ] = None,
    alpha0: Annotated[float, typer.Option(min=0.0, max=1.0, help="aGTF: smallest α.")] = 0.1,
    alpha_every: Annotated[int, typer.Option(min=1, help="aGTF: update α every k steps.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Checkpoint period.")] = 100,
    validation: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Fraction held out at the end for model selection (0: none)."
        ),
    ] = 0.1,
    validate_every: Annotated[
        int, typer.Option(min=1, help="Score the model on the validation part every k steps.")
    ] = 100,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out (it must exist).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a DSR model with (adaptive) generalized teacher forcing, in parallel over time."""
    from ._plots import plot_curves
    from ._train import fit

    values = dict(
        data=data, model=model, latent=latent, hidden=hidden, observation=observation,
        num_relu=num_relu, seq_len=seq_len, batch_size=batch_size, gtf=gtf, solver=solver,
        steps=steps, lr=lr, lr_final=lr_final, alpha0=alpha0, alpha_every=alpha_every, seed=seed,
        checkpoint_every=checkpoint_every, validation=validation, validate_every=validate_every,
    )  # fmt: skip
    if data is None and config is None:
        raise bad("--data", "is required (on the command line or in the --config file).")
    check_out_dir(out)
    cfg = resolve_config(ctx, TrainConfig, config, values)
    x = load_data(cfg.data, min_length=cfg.seq_len)
    d = int(x.shape[1])
    cfg = TrainConfig(**{**cfg.to_dict(), "latent": cfg.latent or d, "data_size": d})
    if resume and not (out / "checkpoint.eqx").is_file():
        raise bad(
            "--resume",
            f"{str(out)!r} holds no run to resume; leave out --resume to start a new run.",
        )
    if not resume and (out / "checkpoint.eqx").exists():
        raise bad(
            "--out",
            f"{str(out)!r} already holds a run; choose another --out to start a new one, or "
            "add --resume to continue this one.",
        )
    from ._select import MIN_VALIDATION, split_validation

    try:
        x, x_val = split_validation(x, cfg.validation, min_train=cfg.seq_len, if_short="skip")
    except ValueError as e:
        raise bad("--validation", str(e).removeprefix("`fraction`: ")) from None
    kmodel, ktrain = jax.random.split(jax.random.key(cfg.seed))
    with flag("--latent"):
        net = _build(cfg, kmodel)
    if x_val is None and cfg.validation > 0:
        typer.echo(
            f"note: {cfg.validation} of the {x.shape[0]} steps is shorter than the "
            f"{MIN_VALIDATION} steps a validation segment needs: training without model "
            "selection (eval and generate will use the last checkpoint).",
            err=True,
        )
    store_config(out, cfg, resume=resume, name=CONFIG)
    state, history = fit(
        net,
        jnp.asarray(x, jnp.result_type(float)),
        steps=cfg.steps,
        seq_len=cfg.seq_len,
        key=ktrain,
        gtf=cfg.gtf_value(),
        batch_size=cfg.batch_size,
        solver=make_solver(cfg.solver),
        learning_rate=cfg.lr,
        final_learning_rate=cfg.lr_final,
        alpha0=cfg.alpha0,
        alpha_every=cfg.alpha_every,
        validation=None if x_val is None else jnp.asarray(x_val, jnp.result_type(float)),
        validate_every=cfg.validate_every,
        out_dir=out,
        resume=resume,
        checkpoint_every=cfg.checkpoint_every,
        progress=progress,
    )
    fig = plot_curves(history)
    if fig is not None:
        fig.savefig(out / "curves.png", dpi=110)
    last = history[-1] if history else {}
    typer.echo(
        f"trained {cfg.steps} steps: loss={last.get('loss', float('nan')):.4g} "
        f"alpha={float(state.alpha):.3f}; run in {out}"
    )
    if int(state.best_step) >= 0:
        typer.echo(
            f"best on the validation part: step {int(state.best_step)}, "
            f"D_stsp={float(state.best_score):.4g} (kept in {out / 'best.eqx'})"
        )


@app.command("eval")
def eval_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory of `paratime dsr train`.")],
    data: Annotated[str, typer.Option(help=data_help("Test series"))],
    pe_steps: Annotated[int, typer.Option(min=1, help="n of PE(n).")] = 20,
    checkpoint: Annotated[
        Checkpoint, typer.Option(help="best: selected on the validation part; last: final.")
    ] = Checkpoint.best,
) -> None:
    """Evaluate a trained model: D_stsp, D_H, PE(20) into DIR/metrics.json, plus plots."""
    from ..train._atomic import atomic_write_text
    from ._evaluate import evaluate
    from ._plots import save_run_plots

    cfg, state, step, used = _restore(run, checkpoint.value)
    typer.echo(f"model: {used} checkpoint, step {step}")
    test = load_data(data, min_length=200)
    if test.shape[1] != cfg.data_size:
        raise bad(
            "--data",
            f"the test data has {test.shape[1]} dimensions; the model was trained on "
            f"{cfg.data_size}.",
        )
    results, x_gen = evaluate(
        state.model, jnp.asarray(test, jnp.result_type(float)), pe_steps=pe_steps
    )
    record = {**results, "checkpoint": used, "step": step}
    atomic_write_text(run / "metrics.json", json.dumps(record, indent=2))
    for k, v in results.items():
        typer.echo(f"{k} = {v:.4g}")
    if results.get("generated_nonfinite"):
        typer.echo(
            "Error: the model's free run became non-finite (NaN or Inf): its dynamics diverge, "
            f"so D_stsp, D_H and PE are not meaningful; metrics written to {run / 'metrics.json'}.",
            err=True,
        )
        raise typer.Exit(1)
    save_run_plots(run, _history(run), test, x_gen)


@app.command("generate")
def generate_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory of `paratime dsr train`.")],
    steps: Annotated[int, typer.Option(min=1, help="Length T of the trajectory.")],
    out: Annotated[Path, typer.Option(help="Output .npy file, shape (T, d).")],
    x0: Annotated[Path | None, typer.Option(help=".npy start: (d,) or (W, d).")] = None,
    checkpoint: Annotated[
        Checkpoint, typer.Option(help="best: selected on the validation part; last: final.")
    ] = Checkpoint.best,
) -> None:
    """Write a free-running trajectory of the trained model (observation space).

    Nothing is written if the trajectory becomes non-finite: the command then names the
    first non-finite step and exits with code 1.
    """
    from ._evaluate import BURN_IN, generate

    if out.is_dir():
        raise bad("--out", f"{str(out)!r} is a directory; give the .npy file to write.")
    cfg, state, *_ = _restore(run, checkpoint.value)
    if x0 is None:
        context = load_data(cfg.data, name="RUN (its training data)")[-(BURN_IN + 1) :]
    else:
        with flag("--x0"):
            context = np.atleast_2d(np.load(x0))
        if context.ndim != 2 or context.shape[1] != cfg.data_size:
            raise bad(
                "--x0",
                f"must have shape (d,) or (W, d) with d={cfg.data_size}; got {context.shape}.",
            )
        if not np.all(np.isfinite(context)):
            raise bad("--x0", "holds NaN or Inf.")
    # Written atomically and only if finite; a diverging free run raises
    # `NonFiniteTrajectoryError` (one line, exit code 1) naming the first non-finite step.
    ctx = jnp.asarray(context, jnp.result_type(float))
    traj = generate(state.model, ctx, steps, out=out)
    typer.echo(f"wrote {out} with shape {traj.shape}")
