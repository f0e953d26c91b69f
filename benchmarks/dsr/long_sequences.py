"""Short vs long training sequences on the slow–fast benchmark, under a choice of forcing.

Trains `paratime dsr train --data slow-fast` once per (L, batch, seed) with everything else
fixed (every run trains all its steps: `--patience 0`), scores each run on `slow-fast-test`
with `paratime.dsr.evaluate` (D_stsp, D_H, PE(20) over a 100 000-step free run) plus the
slow-scale metrics below, and writes one JSON record per run (resumable: finished runs are
read back, not retrained). Run from the repository root, one job on one core:

    taskset -c 0 nice -n 5 env PYTHONPATH=src XLA_FLAGS=--xla_cpu_multi_thread_eigen=false \
        .venv/bin/python benchmarks/dsr/long_sequences.py --runs runs/dsr-long \
        --configs 200x16 200x50 10000x1 --seeds 0 1 2 --steps 3000 \
        --result benchmarks/results/dsr-long-slow-fast.json

A config is `LxB` or `LxB:STEPS` (its own number of steps, e.g. for an equal-time
comparison); `--flags` are appended to every `paratime dsr train` command (e.g.
`--flags "--unforced 3"`), and `--tag` names the variant (a prefix of the run directories).
`--table FILE...` prints one table of the runs of several result files. Where the data has
more than the four columns (x, y, z, u), D_stsp and D_H are also given on
those four (`D_stsp_4`, `D_H_4`), so the variants compare on the same columns.

Slow-scale metrics, computed on windows of 200 samples (`slow_metrics`): the drive u's
period (mean spacing of upward crossings of its mean; none when its std is below a quarter
of the data's) and amplitude (std of its window means),
the fraction of quiescent windows (std of x below 0.1), the correlation between the fast
activity (std of x in a window) and u, and D_H,slow, the Hellinger distance between the
power spectra of the activity envelope (σ = 2 frequency bins).
"""

import argparse
import datetime
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
from scipy.ndimage import gaussian_filter1d

WINDOW = 200
FIELD_METRICS = (
    "D_stsp",
    "D_H",
    "PE20",
    "lambda_max",
    "lambda_max_data",
    "eval_wall_s",
    "generated_nonfinite",
)
QUIET = 0.1
MIN_AMPLITUDE = 0.25


def _crossing_period(u: np.ndarray) -> float:
    """Mean spacing (in windows) of upward crossings of u's mean; NaN if fewer than two."""
    c = u - u.mean()
    up = np.flatnonzero((c[:-1] < 0) & (c[1:] >= 0))
    if len(up) < 2 or not np.isfinite(c).all():
        return math.nan
    return float(np.diff(up).mean())


def _envelope_spectrum(a: np.ndarray) -> np.ndarray:
    z = a - a.mean()
    ps = gaussian_filter1d(np.abs(np.fft.rfft(z)) ** 2, 2.0)
    return ps / ps.sum() if ps.sum() > 0 else ps


def slow_metrics(x: np.ndarray, window: int = WINDOW) -> dict[str, float]:
    """Statistics of the slow scale of an (x, y, z, u) series, on windows of `window` samples."""
    n = x.shape[0] // window
    w = np.asarray(x[: n * window], np.float64).reshape(n, window, x.shape[1])
    if not np.isfinite(w).all():
        return {"finite": 0.0}
    act, u = w[:, :, 0].std(axis=1), w[:, :, 3].mean(axis=1)
    # No correlation where either barely varies (a model frozen on a fixed point).
    corr = np.corrcoef(act, u)[0, 1] if min(act.std(), u.std()) > 1e-3 else math.nan
    return {
        "finite": 1.0,
        "u_period": _crossing_period(u) * window,
        "u_std": float(u.std()),
        "quiet_fraction": float((act < QUIET).mean()),
        "activity_u_corr": float(corr),
        "activity": act,
    }


def compare_slow(test: np.ndarray, gen: np.ndarray) -> dict[str, float]:
    """Slow-scale metrics of a generated series and their errors against the test series."""
    t, g = slow_metrics(test), slow_metrics(gen)
    if not g["finite"]:
        return {"finite": 0.0}
    pt, pg = _envelope_spectrum(t["activity"]), _envelope_spectrum(g["activity"])
    dh = math.sqrt(min(1.0, 0.5 * float(((np.sqrt(pt) - np.sqrt(pg)) ** 2).sum())))
    if pg.sum() == 0:
        dh = 1.0
    out = {k: v for k, v in g.items() if k != "activity"}
    out["D_H_slow"] = dh
    # A drive that keeps less than a quarter of the data's amplitude does not oscillate on
    # the slow scale (its crossings are fast jitter): no period.
    if g["u_std"] < MIN_AMPLITUDE * t["u_std"]:
        g["u_period"] = out["u_period"] = math.nan
    period_err = abs(g["u_period"] - t["u_period"]) / t["u_period"]
    out["u_period_rel_err"] = period_err if math.isfinite(period_err) else None
    out["u_std_rel_err"] = abs(g["u_std"] - t["u_std"]) / t["u_std"]
    out["quiet_fraction_err"] = abs(g["quiet_fraction"] - t["quiet_fraction"])
    out["test"] = {k: v for k, v in t.items() if k != "activity"}
    if isinstance(out.get("u_period"), float) and not math.isfinite(out["u_period"]):
        out["u_period"] = None
    return out


def _clean(x):
    """NaN and Inf become None, so the JSON files are strict JSON."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    return x


def _train(run: Path, L: int, B: int, steps: int, seed: int, a) -> None:
    cmd = [
        sys.executable, "-m", "paratime.cli", "dsr", "train", "--data", a.data, "--model", a.model,
        "--latent", str(a.latent), "--hidden", str(a.hidden), "--seq-len", str(L),
        "--batch-size", str(B), "--gtf", "adaptive", "--alpha0", "0.1", "--solver", a.solver,
        "--lr", str(a.lr), "--steps", str(steps), "--seed", str(seed),
        "--checkpoint-every", "500", "--patience", "0", "--no-progress", "--out", str(run),
        *shlex.split(a.flags),
    ]  # fmt: skip
    resume = (run / "checkpoint.eqx").exists()
    if resume:
        cmd.append("--resume")
    print(" ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def _log_summary(run: Path) -> dict:
    log = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines() if s]
    dts = [b["time"] - a["time"] for a, b in zip(log[1:], log[2:])]
    return {
        "steps_done": len(log),
        "train_wall_s": log[-1]["time"],
        "median_s_per_step": statistics.median(dts) if dts else None,
        "final_loss_mean_last50": statistics.mean(r["loss"] for r in log[-50:]),
        "final_alpha": log[-1]["alpha"],
        "mean_newton_steps": statistics.mean(r["newton_steps"] for r in log),
        "skipped_steps": sum(r.get("skipped", 0) > 0 for r in log),
    }


def evaluate_run(run: Path, test: np.ndarray) -> tuple[dict, np.ndarray]:
    import jax.numpy as jnp

    from paratime.dsr import evaluate, load_run

    _, state, *_ = load_run(run)
    t0 = time.perf_counter()
    metrics, gen = evaluate(state.model, jnp.asarray(test, jnp.float32))
    metrics.update(compare_slow(test, np.asarray(gen)))
    if test.shape[1] > 4 and np.isfinite(gen).all():
        metrics.update(_four_columns(test, np.asarray(gen)))
    metrics["eval_wall_s"] = time.perf_counter() - t0
    return metrics, np.asarray(gen)


def _four_columns(test: np.ndarray, gen: np.ndarray) -> dict[str, float]:
    from paratime.dsr import metrics as M

    return {
        "D_stsp_4": float(M.state_space_divergence(test[:, :4], gen[:, :4])),
        "D_H_4": float(M.power_spectrum_distance(test[:, :4], gen[:, :4])),
    }


def _fmt(values: list[float | None], digits: int = 2) -> str:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.mean(v):.{digits}f} ± {statistics.stdev(v):.{digits}f}"


def table(records: list[dict]) -> str:
    keys = [
        ("D_stsp", 2), ("D_H", 3), ("PE20", 4), ("D_H_slow", 3), ("u_period_rel_err", 3),
        ("u_std_rel_err", 3), ("quiet_fraction_err", 3), ("activity_u_corr", 2),
    ]  # fmt: skip
    head = "| L × batch | seeds | diverged | " + " | ".join(k for k, _ in keys)
    head += " | s / step | steps | train s |"
    rows = [head, "|" + "---|" * (len(keys) + 6)]
    groups: dict[str, list[dict]] = {}
    for r in records:
        name = f"{r['seq_len']} × {r['batch_size']}"
        if r.get("variant"):
            name = f"{r['variant']}, {name}"
        groups.setdefault(name, []).append(r)
    for name, runs in groups.items():
        # A free run that overflowed has no meaningful scores: counted, left out of the means.
        rs = [r for r in runs if not r["metrics"].get("generated_nonfinite")]
        # Variants with more columns are compared on (x, y, z, u) alone.
        get = lambda r, k: r["metrics"].get(f"{k}_4", r["metrics"].get(k))
        cells = [_fmt([get(r, k) for r in rs], d) for k, d in keys]
        # u_period_rel_err is None where the generated u does not oscillate at all.
        osc = sum(r["metrics"].get("u_period_rel_err") is not None for r in rs)
        cells[4] += f" ({osc}/{len(rs)} oscillate)"
        step = _fmt([r["train"]["median_s_per_step"] for r in runs], 3)
        bad = len(runs) - len(rs)
        steps = _fmt([r["train"]["steps_done"] for r in runs], 0)
        wall = _fmt([r["train"]["train_wall_s"] for r in runs], 0)
        line = f"| {name} | {len(runs)} | {bad} | " + " | ".join(cells)
        rows.append(line + f" | {step} | {steps} | {wall} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=Path("runs/dsr-long"))
    p.add_argument("--configs", nargs="+", default=["200x16", "200x50", "10000x1"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=3000, help="for configs without :STEPS")
    p.add_argument("--flags", default="", help="more flags for every `paratime dsr train`")
    p.add_argument("--tag", default="", help="the variant's name, a prefix of its run dirs")
    p.add_argument("--data", default="slow-fast")
    p.add_argument("--test", default="slow-fast-test")
    p.add_argument("--model", default="shplrnn")
    p.add_argument("--latent", type=int, default=6)
    p.add_argument("--hidden", type=int, default=200)
    p.add_argument("--solver", default="sequential")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--result", type=Path, default=Path("benchmarks/results/dsr-long-slow-fast.json")
    )
    p.add_argument("--save-generated", action="store_true", help="keep RUN/generated.npy")
    p.add_argument(
        "--rescore", action="store_true", help="recompute the slow metrics of finished runs"
    )
    p.add_argument(
        "--table", type=Path, nargs="+", help="only print the table of these result files"
    )
    a = p.parse_args()
    if a.table:
        print(table([r for f in a.table for r in json.loads(f.read_text())["runs"]]))
        return
    from paratime.data import load_series

    test = np.asarray(load_series(a.test))
    train = np.asarray(load_series(a.data))
    records = []
    for cfg in a.configs:
        shape, _, steps = cfg.partition(":")
        L, B = (int(v) for v in shape.split("x"))
        steps = int(steps) if steps else a.steps
        for seed in a.seeds:
            run = a.runs / f"{a.tag + '-' if a.tag else ''}L{L}-B{B}-s{seed}"
            cached = run / "long_sequences.json"
            if cached.exists():
                rec = json.loads(cached.read_text())
                if a.rescore and (run / "generated.npy").exists():
                    slow = compare_slow(test, np.load(run / "generated.npy"))
                    rec["metrics"] = {**rec["metrics"], **slow}
                    for k in set(rec["metrics"]) - set(slow) - set(FIELD_METRICS):
                        del rec["metrics"][k]  # a slow metric the new scoring leaves out
                    cached.write_text(json.dumps(_clean(rec), indent=1))
                records.append(rec)
                continue
            _train(run, L, B, steps, seed, a)
            metrics, gen = evaluate_run(run, test)
            if a.save_generated:
                np.save(run / "generated.npy", gen.astype(np.float32))
            rec = {"run": run.name, "variant": a.tag, "flags": a.flags, "seq_len": L,
                   "batch_size": B, "steps": steps, "seed": seed, "train": _log_summary(run),
                   "metrics": metrics}  # fmt: skip
            cached.write_text(json.dumps(_clean(rec), indent=1))
            records.append(rec)
            print(json.dumps(rec["metrics"], default=float), flush=True)
    # The floor: the noisy training series itself, scored against the test series.
    from paratime.dsr import metrics as M

    floor = {"D_stsp": float(M.state_space_divergence(test, train)),
             "D_H": float(M.power_spectrum_distance(test, train))}  # fmt: skip
    floor.update(compare_slow(test, train))
    if test.shape[1] > 4:
        floor.update(_four_columns(test, train))
    out = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "jax": jax.__version__,
        "device": "cpu, one core (taskset), XLA single-threaded",
        "cpu": os.uname().machine,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "floor_train_vs_test": floor,
        "runs": records,
    }
    a.result.parent.mkdir(parents=True, exist_ok=True)
    a.result.write_text(json.dumps(_clean(out), indent=1))
    print(table(records))
    print("floor (training series vs test):", json.dumps(floor, default=float))


if __name__ == "__main__":
    main()
