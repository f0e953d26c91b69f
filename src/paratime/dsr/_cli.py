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
    flag,
    load_data,
    new_app,
    positive,
    store_config,
)
from ._config import TrainConfig

app = new_app()


class Checkpoint(str, enum.Enum):
    """Which model of a run `eval` and `generate` use."""

    best = "best"
    last = "last"


CONFIG = "config.toml"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from `"600"`, `"90s"`, `"10m"` or `"2h"`; a bad one is a `--time-limit` error."""
    t = text.strip().lower()
    scale = _UNITS.get(t[-1:], None)
    number = t[:-1] if scale is not None else t
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise bad("--time-limit", f"must be a duration like 600, 90s, 10m or 2h; got {text!r}.")
    return seconds


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


def _resolve(ctx: typer.Context, base: dict[str, Any], values: dict[str, Any]) -> TrainConfig:
    """The config from the defaults, then `base` (a recipe, updated by the --config file),
    then the flags given on the command line; a bad field is reported as its flag."""
    from .._config import ConfigError

    merged = dict(base)
    for name, value in values.items():
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")
        if given or name not in base:
            merged[name] = value.value if isinstance(value, enum.Enum) else value
    try:
        return TrainConfig(**merged)
    except ConfigError as e:
        raise bad("--" + e.field.replace("_", "-"), str(e)) from e


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
    opt = make_optimizer(cfg.lr, cfg.steps, clip=cfg.grad_clip or None)
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


def _load_trajectories(source: str, seq_len: int) -> list[np.ndarray]:
    """The training data: one series (a path or name), or the trajectories of a `.npz` file
    or a folder of `.npy` files; each checked, errors naming `--data`."""
    from ._trajectories import load_trajectories

    with flag("--data"):
        many = load_trajectories(source)
    if many is None:
        return [load_data(source, min_length=seq_len)]
    if len({t.shape[1] for t in many}) > 1:
        dims = [t.shape[1] for t in many]
        raise bad("--data", f"the trajectories have different dimensions {dims}.")
    if max(t.shape[0] for t in many) < seq_len:
        raise bad("--data", f"no trajectory has the {seq_len} steps of one training window.")
    return many


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
    data: Annotated[
        str | None, typer.Option(help="Training series: a .npy/.csv path or a name.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="A TOML file of these settings; flags override it.")
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(help="A shipped recipe (e.g. gtf-lorenz63); --config and flags override."),
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
    forcing_interval: Annotated[
        int, typer.Option(min=1, help="Force every k-th step only (with --gtf 1: STF).")
    ] = 1,
    latent_regularization: Annotated[
        float, typer.Option(min=0.0, help="λ of the latent-model weight penalty (GTF code).")
    ] = 0.0,
    observation_regularization: Annotated[
        float, typer.Option(min=0.0, help="λ of the observation-model penalty (GTF code).")
    ] = 0.0,
    grad_clip: Annotated[
        float, typer.Option(min=0.0, help="Global gradient-norm clip (0: none).")
    ] = 10.0,
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
    validation_starts: Annotated[
        int, typer.Option(min=1, help="Free runs per validation, from spread-out starts.")
    ] = 16,
    validation_box_starts: Annotated[
        int, typer.Option(min=0, help="More validation runs from points off the data.")
    ] = 0,
    selection: Annotated[
        str, typer.Option(help="Score a model by the worst|mean of its validation runs.")
    ] = "worst",
    patience: Annotated[
        int,
        typer.Option(min=0, help="Stop after this many steps without a better score (0: never)."),
    ] = 2000,
    time_limit: Annotated[
        str | None,
        typer.Option(help="Wall-clock budget: seconds, or with a unit (90s, 10m, 2h)."),
    ] = None,
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
        forcing_interval=forcing_interval, latent_regularization=latent_regularization,
        observation_regularization=observation_regularization, grad_clip=grad_clip,
        checkpoint_every=checkpoint_every, validation=validation, validate_every=validate_every,
        validation_starts=validation_starts, selection=selection, patience=patience,
        validation_box_starts=validation_box_starts,
        time_limit=None if time_limit is None else parse_duration(time_limit),
    )  # fmt: skip
    base: dict[str, Any] = {}
    if recipe is not None:
        from .recipes import recipe_values

        try:
            base = recipe_values(recipe)
        except ValueError as e:
            raise bad("--recipe", str(e)) from None
    if config is not None:
        with flag("--config"):
            base.update(TrainConfig.read_toml(config))
    if data is None and "data" not in base:
        raise bad("--data", "is required (on the command line, in --config or the recipe).")
    check_out_dir(out)
    cfg = _resolve(ctx, base, values)
    trajectories = _load_trajectories(cfg.data, cfg.seq_len)
    d = int(trajectories[0].shape[1])
    cfg = TrainConfig(**{**cfg.to_dict(), "latent": cfg.latent or d, "data_size": d})
    if resume and not (out / "checkpoint.eqx").is_file():
        raise bad(
            "--resume",
            f"{str(out)!r} holds no run to resume; leave out --resume to start a new run.",
        )
    if not resume and (out / "checkpoint.eqx").exists():
        raise bad(
            "--resume",
            f"{str(out)!r} already holds a run: add --resume to continue it, or choose "
            "another --out to start a new one.",
        )
    from ._select import MIN_VALIDATION, split_validation

    try:
        # Several trajectories: the validation part is the end of the longest one.
        longest = max(range(len(trajectories)), key=lambda i: trajectories[i].shape[0])
        x, x_val = split_validation(
            trajectories[longest], cfg.validation, min_train=cfg.seq_len, if_short="skip"
        )
        trajectories[longest] = x
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
        [jnp.asarray(t, jnp.result_type(float)) for t in trajectories]
        if len(trajectories) > 1
        else jnp.asarray(x, jnp.result_type(float)),
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
        forcing_interval=cfg.forcing_interval,
        latent_regularization=cfg.latent_regularization,
        observation_regularization=cfg.observation_regularization,
        grad_clip=cfg.grad_clip or None,
        validation=None if x_val is None else jnp.asarray(x_val, jnp.result_type(float)),
        validate_every=cfg.validate_every,
        validation_starts=cfg.validation_starts,
        validation_box_starts=cfg.validation_box_starts,
        selection="worst" if cfg.selection == "worst" else "mean",
        patience=cfg.patience or None,
        time_limit=cfg.time_limit,
        out_dir=out,
        resume=resume,
        checkpoint_every=cfg.checkpoint_every,
        progress=progress,
    )
    fig = plot_curves(history)
    if fig is not None:
        fig.savefig(out / "curves.png", dpi=110)
    last = history[-1] if history else {}
    done = int(last.get("step", cfg.steps - 1)) + 1
    if done < cfg.steps:
        why = "no better validation score" if last.get("stop") else "the time limit"
        typer.echo(f"stopped after {done} of {cfg.steps} steps ({why}).")
    typer.echo(
        f"trained {done} steps: loss={last.get('loss', float('nan')):.4g} "
        f"alpha={float(state.alpha):.3f}; run in {out}"
    )
    if int(state.best_step) < 0 and cfg.validation > 0 and any("val_D_stsp" in h for h in history):
        typer.echo(
            "note: no model was selected: at every validation some free run became non-finite "
            "(the model is unbounded from part of the state space); eval and generate will use "
            "the last checkpoint. A bounded model (--model clipped-shplrnn) cannot overflow.",
            err=True,
        )
    if int(state.best_step) >= 0:
        typer.echo(
            f"best on the validation part: step {int(state.best_step)}, "
            f"D_stsp={float(state.best_score):.4g} (kept in {out / 'best.eqx'})"
        )


@app.command("eval")
def eval_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory of `paratime dsr train`.")],
    data: Annotated[str, typer.Option(help="Test series: a .npy/.csv path or a name.")],
    pe_steps: Annotated[int, typer.Option(min=1, help="n of PE(n).")] = 20,
    protocol: Annotated[
        str,
        typer.Option(
            help="burn-in: free run after 50 forced steps; gtf: from the first point, "
            "1.25 T steps, the first 0.25 T dropped (the GTF code)."
        ),
    ] = "burn-in",
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
    from ._evaluate import PROTOCOLS

    if protocol not in PROTOCOLS:
        raise bad("--protocol", f"must be one of {', '.join(PROTOCOLS)}; got {protocol!r}.")
    results, x_gen = evaluate(
        state.model,
        jnp.asarray(test, jnp.result_type(float)),
        pe_steps=pe_steps,
        protocol=protocol,
    )
    record = {**results, "checkpoint": used, "step": step, "protocol": protocol}
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
        with flag("RUN (its training data)"):
            many = _load_trajectories(cfg.data, 1)
        context = many[-1][-(BURN_IN + 1) :]
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
