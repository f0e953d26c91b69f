"""`paratime dsr train|eval|generate`: dynamical-systems reconstruction from the shell."""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import typer

from ..cli._common import bad, check_out_dir, data_help, flag, load_data, new_app, store_config
from ..cli._options import config_options
from ._config import TrainConfig
from ._restore import CONFIG, build_from_config, load_run

app = new_app()
Checkpoint = Literal["best", "last"]
CHECKPOINT_HELP = "best: selected on the validation part; last: final."


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


def _recipe(recipe: str | None = None, **_) -> dict[str, Any]:
    """The values of the shipped recipe `--recipe` (below `--config` and the flags)."""
    if recipe is None:
        return {}
    from .recipes import recipe_values

    try:
        return recipe_values(recipe)
    except ValueError as e:
        raise bad("--recipe", str(e)) from None


@app.callback()
def _group() -> None:
    """Dynamical-systems reconstruction with GTF (PLRNN family)."""


def _load_run(run: Path, which: Checkpoint) -> tuple[TrainConfig, Any, int, str]:
    """`load_run` with its errors reported as `RUN` and a note when `best` is not there."""
    from ..train import CheckpointError
    from ._select import BEST

    try:
        cfg, state, step, used = load_run(run, which)
    except CheckpointError as e:
        other = "last" if which == "best" and (run / BEST).is_file() else "best"
        raise bad("RUN", f"{e} Or use the other model of the run: --checkpoint {other}.") from e
    except (ValueError, OSError) as e:
        raise bad("RUN", str(e)) from e
    if which == "best" and used == "last":
        typer.echo(
            f"note: {str(run)!r} has no {BEST} (a run from before model selection, or "
            "trained with --validation 0): using the last checkpoint.",
            err=True,
        )
    return cfg, state, step, used


def _history(run: Path, own: bool = False) -> list[dict[str, Any]]:
    """The metrics log of a run (of the restart that replaced its model, if any, unless
    `own`)."""
    from ._overflow import selected_run

    log = (run if own else selected_run(run)) / "metrics.jsonl"
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
@config_options(TrainConfig, base=_recipe)
def train_cmd(
    cfg: TrainConfig,
    out: Annotated[Path, typer.Option(help="Run directory (checkpoint, logs, plots).")],
    recipe: Annotated[
        str | None,
        typer.Option(help="A shipped recipe (e.g. gtf-lorenz63); --config and flags override."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out (it must exist).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a DSR model with (adaptive) generalized teacher forcing, in parallel over time.

    If free runs of an unbounded model overflow at half of the validations or more, the
    bounded model (the clipped shPLRNN) is trained in its place (--on-overflow). Otherwise,
    if the selected model scores above --restart-target on validation, the same model is
    trained from more seeds and the best kept (--restarts)."""
    from ._overflow import RESTARTS, SELECTED, escaped

    started = time.perf_counter()
    check_out_dir(out)
    trajectories = _load_trajectories(cfg.data, cfg.seq_len)
    d = int(trajectories[0].shape[1])
    cfg = cfg.replace(latent=cfg.latent or d, data_size=d)
    if resume and not (out / "checkpoint.eqx").is_file():
        raise bad(
            "--resume",
            f"{str(out)!r} holds no run to resume; leave out --resume to start a new run.",
        )
    if not resume and any((run / "checkpoint.eqx").exists() for run in _runs_in(out)):
        raise bad(
            "--out",
            f"{str(out)!r} already holds a run; choose another --out to start a new one, or "
            "add --resume to continue this one.",
        )
    if not resume:
        (out / SELECTED).unlink(missing_ok=True)
    (out / RESTARTS).unlink(missing_ok=True)  # written again once the restarts are done
    own = _history(out, own=True) if resume else []
    if resume and _finished(own, cfg):
        # Stopped by patience, or all its steps done (a model in its place goes on below).
        store_config(out, cfg, resume=True, name=CONFIG)  # the same options, or refused
        typer.echo(f"the run in {out} has finished training; nothing to resume there.")
        state, history = None, own
    else:
        state, history = _train_run(cfg, out, trajectories, resume=resume, progress=progress)
    if escaped(cfg, history):
        _train_bounded(cfg, out, trajectories, history, progress=progress, started=started)
        return
    if state is None:  # a finished run, resumed: its own final state
        state = load_run(out, "last")[1]
    note = overflow_note(history, int(state.best_step), cfg.on_overflow == "keep")
    if note:
        typer.echo(note, err=True)
    _report_best(cfg, state, out)
    if cfg.restarts and int(state.best_step) >= 0:
        _train_more_seeds(cfg, out, trajectories, state, progress=progress, started=started)


def _runs_in(out: Path) -> list[Path]:
    """`out` and the restarts in it (the bounded model's, and its own model's)."""
    return [out, *sorted(out.glob("bounded-*")), *sorted(out.glob("restart-*"))]


def _split(
    cfg: TrainConfig, trajectories: list[np.ndarray]
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
    """The training trajectories, the training part of the longest one, and the validation
    part (the end of the longest trajectory, `cfg.validation` of it; `None` if too short)."""
    from ._select import split_validation

    trajectories = list(trajectories)
    try:
        longest = max(range(len(trajectories)), key=lambda i: trajectories[i].shape[0])
        x, x_val = split_validation(
            trajectories[longest], cfg.validation, min_train=cfg.seq_len, if_short="skip"
        )
    except ValueError as e:
        raise bad("--validation", str(e).removeprefix("`fraction`: ")) from None
    trajectories[longest] = x
    return trajectories, x, x_val


def _train_run(
    cfg: TrainConfig,
    out: Path,
    trajectories: list[np.ndarray],
    *,
    resume: bool,
    progress: bool,
) -> tuple[Any, list[dict[str, Any]]]:
    """Train the model `cfg` describes into `out` (new, or resumed), as `paratime dsr
    train` does: the validation part split off, the config stored, curves plotted; the
    final state and the metrics log."""
    from ._plots import plot_curves
    from ._select import MIN_VALIDATION
    from ._train import fit

    trajectories, x, x_val = _split(cfg, trajectories)
    kmodel, ktrain = jax.random.split(jax.random.key(cfg.seed))
    with flag("--latent"):
        net = build_from_config(cfg, kmodel)
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
        cfg,
        key=ktrain,
        validation=None if x_val is None else jnp.asarray(x_val, jnp.result_type(float)),
        out_dir=out,
        resume=resume,
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
    elif done > cfg.steps:
        typer.echo(
            f"went on {done - cfg.steps} steps past --steps {cfg.steps} while the model still "
            f"improved on validation (at most {cfg.max_steps(True) - cfg.steps}: --extra-steps)."
        )
    typer.echo(
        f"trained {done} steps: loss={last.get('loss', float('nan')):.4g} "
        f"alpha={float(state.alpha):.3f}; run in {out}"
    )
    return state, history


def _report_best(cfg: TrainConfig, state: Any, out: Path) -> None:
    if int(state.best_step) >= 0:
        typer.echo(
            f"best on the validation part: step {int(state.best_step)}, "
            f"{'D_stsp' if cfg.select_on == 'D_stsp' else 'score'}={float(state.best_score):.4g} "
            f"(kept in {out / 'best.eqx'})"
        )


def _finished(history: list[dict[str, Any]], cfg: TrainConfig) -> bool:
    """Whether a run's log ends its training: stopped by patience, or all its steps done."""
    last = history[-1] if history else {}
    return bool(last.get("stop")) or int(last.get("step", -1)) + 1 >= cfg.max_steps(
        cfg.validation > 0
    )


def _mean_scorer(
    cfg: TrainConfig, trajectories: list[np.ndarray]
) -> Callable[[Path], float] | None:
    """`score(run_dir)`: the `restart_score` of the model `run_dir` selected, against the
    validation part `cfg` splits off (`None` when there is none)."""
    from ._select import restart_score

    training, _, x_val = _split(cfg, trajectories)
    if x_val is None:
        return None
    real = jnp.result_type(float)  # the dtype fit scores in
    reference = np.concatenate(training).astype(real)
    validation = jnp.asarray(x_val, real)

    def score(run_dir: Path) -> float:
        _, chosen, *_ = load_run(run_dir, "best")
        return restart_score(chosen.model, validation, reference)

    return score


def _train_restarts(
    cfg: TrainConfig,
    out: Path,
    trajectories: list[np.ndarray],
    runs: list[tuple[str, TrainConfig]],
    enough: Callable[[dict[str, Any]], bool],
    *,
    progress: bool,
    started: float,
    what: str,
) -> list[dict[str, Any]]:
    """Train `runs` (directory name in `out`, config), one after the other, until `enough`
    (of a run's entry) holds: finished ones are kept, interrupted ones resumed. Each run's
    entry: `run`, `seed`, `best_score`, `best_step` and, for a run selected on the
    validation part, `mean_score` (`restart_score`). Under `cfg.time_limit` (counted from
    `started`) the runs share what is left. `what` names them in the messages."""
    mean_of = _mean_scorer(cfg, trajectories)
    entries = []
    for j, (name, sub) in enumerate(runs):
        limit = cfg.time_limit_seconds()
        if limit is not None:
            left = limit - (time.perf_counter() - started)
            if left <= 0:
                typer.echo(f"note: the time limit is spent: {j} of the restarts trained.", err=True)
                break
            sub = sub.replace(time_limit=f"{left / (len(runs) - j):.3f}")
        where = out / name
        typer.echo(f"{what} {j + 1} of up to {len(runs)}: seed {sub.seed}, in {where}")
        again = (where / "checkpoint.eqx").is_file()
        if again and _finished(_history(where), sub):
            _, state, *_ = load_run(where)
            typer.echo("  already trained.")
        else:
            state, _ = _train_run(sub, where, trajectories, resume=again, progress=progress)
        score, step = float(state.best_score), int(state.best_step)
        entry = dict(run=name, seed=sub.seed, best_score=score, best_step=step)
        entries.append(entry)
        if step < 0 or mean_of is None:
            continue
        entry["mean_score"] = mean_of(where)
        typer.echo(
            f"  validation score {score:.4g} (step {step}); mean over the runs "
            f"{entry['mean_score']:.4g}"
        )
        if enough(entry):
            break
    return entries


def _train_bounded(
    cfg: TrainConfig,
    out: Path,
    trajectories: list[np.ndarray],
    history: list[dict[str, Any]],
    *,
    progress: bool,
    started: float,
) -> None:
    """Train the bounded model's restarts into `out/bounded-<j>` until one scores below
    `cfg.bounded_target` on validation (its worst run), then name in `out/bounded.json` the
    one whose selected model has the best mean score over its validation runs."""
    from ..train._atomic import atomic_write_text
    from ._overflow import SELECTED, bounded_config, overflow_count

    bad_count, total = overflow_count(history)
    first = bounded_config(cfg, 0)
    typer.echo(
        f"note: at {bad_count} of {total} validations a free run of the {cfg.model} model "
        "became non-finite (the model is unbounded off the data), so selection could only keep "
        f"an early model. Training the bounded model in its place: {first.model}, aGTF with "
        f"alpha <= {first.alpha_max}, selection on D_stsp and D_H, {first.steps} steps, "
        f"up to {cfg.bounded_restarts} seed(s), until one scores below {cfg.bounded_target:g} "
        "on validation; --on-overflow keep would keep the run as it is.",
        err=True,
    )

    runs = [(f"bounded-{j}", bounded_config(cfg, j)) for j in range(cfg.bounded_restarts)]

    def enough(entry: dict[str, Any]) -> bool:
        if entry["best_score"] >= cfg.bounded_target:
            return False
        if entry["run"] != runs[-1][0]:
            typer.echo(f"  below --bounded-target {cfg.bounded_target:g}: no more restarts.")
        return True

    restarts = _train_restarts(
        first, out, trajectories, runs, enough, progress=progress, started=started,
        what="bounded model",
    )  # fmt: skip
    selected = [r for r in restarts if "mean_score" in r]
    if not selected:
        typer.echo(
            "note: no restart of the bounded model was selected on the validation part "
            f"either; {out} keeps the {cfg.model} model's own selection.",
            err=True,
        )
        return
    best = pick_restart(selected)
    record = {
        "model": cfg.model,
        "overflowed_validations": bad_count,
        "validations": total,
        "restarts": restarts,
        "selected": best["run"],
    }
    atomic_write_text(out / SELECTED, json.dumps(record, indent=2))
    typer.echo(
        f"selected {best['run']} (seed {best['seed']}): mean score {best['mean_score']:.4g} "
        f"(worst-run score {best['best_score']:.4g}) at step {best['best_step']} on the "
        f"validation part; eval and generate on {out} use it "
        f"({out / SELECTED})."
    )


def _train_more_seeds(
    cfg: TrainConfig,
    out: Path,
    trajectories: list[np.ndarray],
    own: Any,
    *,
    progress: bool,
    started: float,
) -> None:
    """If the run's selected model (`own`: the run's final state, with its best score and
    step) scores above `cfg.restart_target` on validation (the mean over its runs), train the
    same model into `out/restart-<j>` from other seeds until one scores at or below it, and
    name the best of all in `out/restarts.json` (`null`: the run)."""
    from ..train._atomic import atomic_write_text
    from ._overflow import RESTARTS, restart_config

    mean_of = _mean_scorer(cfg, trajectories)
    if mean_of is None:
        return
    mean = mean_of(out)
    if mean <= cfg.restart_target:
        return
    typer.echo(
        f"note: the selected model's mean validation score {mean:.4g} is above "
        f"--restart-target {cfg.restart_target:g}: training the {cfg.model} model from up to "
        f"{cfg.restarts} more seed(s), until one scores at or below it (--restarts 0: none).",
        err=True,
    )
    runs = [(f"restart-{j}", restart_config(cfg, j)) for j in range(1, cfg.restarts + 1)]
    entries = _train_restarts(
        cfg, out, trajectories, runs, lambda e: e["mean_score"] <= cfg.restart_target,
        progress=progress, started=started, what="restart",
    )  # fmt: skip
    first = {
        "run": None,
        "seed": cfg.seed,
        "best_score": float(own.best_score),
        "best_step": int(own.best_step),
        "mean_score": mean,
    }
    best = pick_restart([first, *(e for e in entries if "mean_score" in e)])
    record = {"restarts": [first, *entries], "selected": best["run"]}
    atomic_write_text(out / RESTARTS, json.dumps(record, indent=2))
    which = "the run's own model" if best["run"] is None else str(out / best["run"])
    typer.echo(
        f"selected {'the run itself' if best['run'] is None else best['run']} (seed "
        f"{best['seed']}): mean score {best['mean_score']:.4g} at step {best['best_step']} on "
        f"the validation part; eval and generate on {out} use {which} ({out / RESTARTS})."
    )


def pick_restart(restarts: list[dict[str, Any]]) -> dict[str, Any]:
    """The restart to keep: the lowest mean score over its validation runs (the first of
    equals)."""
    return min(restarts, key=lambda r: r["mean_score"])


def overflow_note(history: list[dict[str, Any]], best_step: int, kept: bool = False) -> str | None:
    """What to tell the user when validation free runs overflowed (scored D_stsp = inf):
    no model selected at all, or none after `best_step` because every later validation had a
    run that overflowed. `None` when neither happened. `kept`: `--on-overflow keep` was
    asked for (else the bounded model was not tried because fewer than half of the
    validations overflowed, or the model is the bounded one)."""
    scored = [h for h in history if "val_D_stsp" in h]
    if not scored:
        return None
    bounded = (
        "--on-overflow bounded trains a bounded model in its place (the clipped shPLRNN, "
        "which cannot overflow; docs/dsr.md, the Santa Fe laser)."
        if kept
        else "A bounded model cannot overflow: --model clipped-shplrnn --alpha-max 0.3 "
        "--select-on both (docs/dsr.md, the Santa Fe laser)."
    )
    if best_step < 0:
        return (
            "note: no model was selected: at every validation some free run became non-finite "
            "(the model is unbounded from part of the state space); eval and generate will use "
            f"the last checkpoint. {bounded}"
        )
    later = [h for h in scored if h["step"] + 1 > best_step]
    if later and not any(np.isfinite(h["val_D_stsp"]) for h in later):
        return (
            f"note: every validation after step {best_step} ({len(later)} of {len(scored)}) had "
            "a free run that became non-finite, so selection kept that early model. " + bounded
        )
    return None


@app.command("eval")
def eval_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory of `paratime dsr train`.")],
    data: Annotated[str, typer.Option(help=data_help("Test series"))],
    pe_steps: Annotated[int, typer.Option(min=1, help="n of PE(n).")] = 20,
    checkpoint: Annotated[Checkpoint, typer.Option(help=CHECKPOINT_HELP)] = "best",
    protocol: Annotated[
        str,
        typer.Option(
            help="burn-in: free run after 50 forced steps; gtf: from the first point, "
            "1.25 T steps, the first 0.25 T dropped (the GTF code)."
        ),
    ] = "burn-in",
) -> None:
    """Evaluate a trained model: D_stsp, D_H, PE(20) into DIR/metrics.json, plus plots."""
    from ..train._atomic import atomic_write_text
    from ._evaluate import evaluate
    from ._plots import save_run_plots

    cfg, state, step, used = _load_run(run, checkpoint)
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
    checkpoint: Annotated[Checkpoint, typer.Option(help=CHECKPOINT_HELP)] = "best",
) -> None:
    """Write a free-running trajectory of the trained model (observation space).

    Nothing is written if the trajectory becomes non-finite: the command then names the
    first non-finite step and exits with code 1.
    """
    from ._evaluate import BURN_IN, generate

    if out.is_dir():
        raise bad("--out", f"{str(out)!r} is a directory; give the .npy file to write.")
    cfg, state, *_ = _load_run(run, checkpoint)
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
