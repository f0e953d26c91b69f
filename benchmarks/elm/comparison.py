"""The ELM-versus-BPTT comparison: one row per dataset × architecture, as JSONL and Markdown."""

import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from paratime import DEER, ELK, AbstractSolver, QuasiDEER, Sequential
from paratime.bench import environment as _environment
from paratime.elm import FitSettings, evaluate, fit, fit_bptt, load_task, prepare
from paratime.elm._bptt import _mse, initial_model
from paratime.elm._cells import canonical_arch
from paratime.elm._model import Prepared


def time_gradient(
    data: Prepared,
    *,
    arch: str,
    hidden: int,
    key: PRNGKeyArray,
    solver: AbstractSolver,
    batch_size: int = 128,
    repeats: int = 3,
    direct: bool = True,
    **cell_options,
) -> float:
    """Seconds per loss-and-gradient evaluation on one minibatch (after compilation); used
    to pick the fastest parallel solver for BPTT."""
    model = initial_model(data, arch=arch, hidden=hidden, key=key, direct=direct, **cell_options)
    model = eqx.tree_at(lambda m: m.beta, model, jnp.full_like(model.beta, 0.01))
    idx = data.split[0][: min(batch_size, len(data.split[0]))]
    U, F, Y = (jnp.asarray(a[idx]) for a in (data.inputs, data.feedback, data.targets))
    grad = eqx.filter_jit(eqx.filter_value_and_grad(lambda m: _mse(m, U, F, Y, solver)))
    jax.block_until_ready(grad(model)[0])
    t0 = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(grad(model)[0])
    return (time.perf_counter() - t0) / repeats


def environment() -> dict:
    """`paratime.bench.environment()` plus whether float64 is on."""
    return {**_environment(), "x64": bool(jax.config.jax_enable_x64)}


DATASETS: tuple[str, ...] = ("santafe", "mackey-glass", "sunspots", "narma10", "elnino")
PARALLEL_SOLVERS = {"DEER": DEER, "QuasiDEER": QuasiDEER, "ELK": lambda: ELK(diagonal=True)}


def fastest_parallel(data, *, arch, hidden, key, batch_size, names=("DEER", "QuasiDEER")):
    """Time one minibatch gradient with each parallel solver; the fastest and all timings."""
    times = {}
    for name in names:
        try:
            times[name] = time_gradient(
                data, arch=arch, hidden=hidden, key=key, solver=PARALLEL_SOLVERS[name](),
                batch_size=batch_size,
            )  # fmt: skip
        except Exception as e:  # a solver that fails here is not a candidate
            times[name] = f"failed: {type(e).__name__}: {str(e)[:200]}"
    ok = {k: v for k, v in times.items() if isinstance(v, float)}
    if not ok:
        raise RuntimeError(f"no parallel solver works for {arch}: {times}")
    return min(ok, key=ok.get), times


def _timed_elm(data, *, solver, key, repeats: int = 5, lam="gcv", **settings):
    # The ELM-vs-BPTT table times the one-step (GCV) fit it was measured with; the multistep
    # λ search (the library's default since) costs about 3.8x that CPU time.
    s = FitSettings(lam=lam, **settings)
    model, info = fit(data, s, key=key, solver=solver)  # compiles
    cold = info["train_seconds"]
    best = min((fit(data, s, key=key, solver=solver) for _ in range(repeats)),
               key=lambda r: r[1]["train_seconds"])  # fmt: skip
    return best[0], {**best[1], "cold_seconds": cold}


def bench_row(
    dataset: str,
    arch: str,
    *,
    hidden: int,
    window: int,
    seed: int = 0,
    max_length: int | None = None,
    bptt_steps: int = 400,
    eval_every: int = 50,
    patience: int = 4,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    parallel: str | None = None,
    horizon: int = 20,
    elm_parallel: bool = True,
) -> dict:
    """ELM (H by `Sequential` and by the parallel solver) versus BPTT (Sequential and the
    fastest parallel solver) on one dataset and architecture."""
    arch = canonical_arch(arch)
    task = load_task(dataset, max_length=max_length)
    data = prepare(task, window)
    key = jax.random.key(seed)
    common = {"arch": arch, "hidden": hidden, "key": key}
    row: dict = {"dataset": dataset, "arch": arch, "hidden": hidden, "window": window,
                 "windows": {k: int(len(i)) for k, i in zip(("train", "val", "test"), data.split)},
                 "direct": True, "seed": seed}  # fmt: skip
    if parallel is None:
        parallel, row["parallel_gradient_seconds"] = fastest_parallel(
            data, batch_size=batch_size, **common
        )
    row["parallel_solver"] = parallel
    par_solver = PARALLEL_SOLVERS[parallel]()
    elm_model = None
    elm_solvers = [("elm", Sequential())] + ([("elm_parallel", par_solver)] if elm_parallel else [])
    for label, solver in elm_solvers:
        try:
            model, info = _timed_elm(data, solver=solver, **common)
            if elm_model is None:
                elm_model = model
                info |= evaluate(model, data, horizon=horizon)
            else:  # the same weights up to rounding: report the difference, not the RMSE again
                info["max_abs_beta_difference"] = float(
                    jnp.max(jnp.abs(model.beta - elm_model.beta))
                )
            row[label] = info
        except Exception as e:
            row[label] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
    for label, solver in (("bptt_sequential", Sequential()), ("bptt_parallel", par_solver)):
        try:
            model, info = fit_bptt(
                data, solver=solver, max_steps=bptt_steps, eval_every=eval_every,
                patience=patience, batch_size=batch_size, learning_rate=learning_rate, **common,
            )  # fmt: skip
            row[label] = {**info, **evaluate(model, data, horizon=horizon)}
        except Exception as e:
            row[label] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
    elm_t, elm_c = row["elm"].get("train_seconds"), row["elm"].get("cpu_seconds")
    for label in ("bptt_sequential", "bptt_parallel"):
        t, c = row[label].get("train_seconds"), row[label].get("cpu_seconds")
        row[f"ratio_{label}"] = t / elm_t if t and elm_t else None
        row[f"cpu_ratio_{label}"] = c / elm_c if c and elm_c else None
    return row


def run_bench(
    out: str | Path,
    *,
    datasets_: tuple[str, ...] = DATASETS,
    archs: tuple[str, ...] = ("elman", "jordan", "narmax", "fully-connected", "lstm", "gru"),
    resume: bool = True,
    log=print,
    **row_options,
) -> list[dict]:
    """Run `bench_row` for every dataset × architecture, appending each row to the JSONL
    file `out` as soon as it is done (rows already there are skipped when `resume`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = read_rows(out) if resume and out.exists() else []
    if not resume and out.exists():
        out.unlink()
    done = {(r["dataset"], r["arch"]) for r in rows}
    env = environment()
    # the fastest parallel solver is measured once per architecture (on the first dataset)
    chosen = {r["arch"]: r["parallel_solver"] for r in rows}
    for ds in datasets_:
        for arch in archs:
            arch = canonical_arch(arch)
            if (ds, arch) in done:
                continue
            t0 = time.perf_counter()
            opts = dict(row_options)
            if opts.get("parallel") is None and arch in chosen:
                opts["parallel"] = chosen[arch]
            row = {**bench_row(ds, arch, **opts), **env, "options": row_options}
            chosen.setdefault(arch, row["parallel_solver"])
            row["row_seconds"] = time.perf_counter() - t0
            with open(out, "a") as f:
                f.write(json.dumps(row, default=_jsonable) + "\n")
            rows.append(row)
            log(summary_line(row))
    return rows


def _jsonable(x):
    if isinstance(x, np.generic | jnp.ndarray):
        return np.asarray(x).tolist()
    return str(x)


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a bench JSONL file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _fmt(x, spec=".3g", suffix=""):
    return "—" if x is None else format(x, spec) + suffix


def summary_line(row: dict) -> str:
    e, s, p = row["elm"], row["bptt_sequential"], row["bptt_parallel"]
    return (
        f"{row['dataset']:>13} {row['arch']:>15}  ELM {_fmt(e.get('train_seconds'))} s "
        f"rmse {_fmt(e.get('rmse'))} | BPTT-seq {_fmt(s.get('train_seconds'))} s rmse "
        f"{_fmt(s.get('rmse'))} | BPTT-{row['parallel_solver']} "
        f"{_fmt(p.get('train_seconds'))} s rmse {_fmt(p.get('rmse'))}"
    )


def _ratio(row: dict, label: str) -> str:
    wall, cpu = row.get(f"ratio_{label}"), row.get(f"cpu_ratio_{label}")
    if wall is None:
        return "—"
    return f"{wall:.1f}×" + (f" ({cpu:.1f}×)" if cpu is not None else "")


def markdown_table(rows: list[dict]) -> str:
    """The comparison table: train seconds, time ratios (wall, and CPU time in brackets), test
    RMSE one step ahead, and multi-step NRMSE."""
    head = (
        "| dataset | arch | ELM s | BPTT-seq s | BPTT-par s (solver) | BPTT-seq / ELM | "
        "BPTT-par / ELM | RMSE ELM | RMSE BPTT-seq | RMSE BPTT-par | "
        "multi-step NRMSE ELM / seq / par |\n|" + "---|" * 11
    )
    lines = [head]
    for r in rows:
        e, s, p = r["elm"], r["bptt_sequential"], r["bptt_parallel"]
        ms = " / ".join(_fmt(x.get("nrmse_multistep"), ".3g") for x in (e, s, p))
        lines.append(
            f"| {r['dataset']} | {r['arch']} | {_fmt(e.get('train_seconds'))} | "
            f"{_fmt(s.get('train_seconds'))} | {_fmt(p.get('train_seconds'))} "
            f"({r['parallel_solver']}) | {_ratio(r, 'bptt_sequential')} | "
            f"{_ratio(r, 'bptt_parallel')} | {_fmt(e.get('rmse'))} | "
            f"{_fmt(s.get('rmse'))} | {_fmt(p.get('rmse'))} | {ms} |"
        )
    return "\n".join(lines) + "\n"
