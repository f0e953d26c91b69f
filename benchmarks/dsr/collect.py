"""Collect the DSR evidence runs into benchmarks/results/dsr-lorenz63.json and docs figures."""

import datetime
import json
import shutil
import statistics
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[2]
R = ROOT / "benchmarks" / "results"
F = ROOT / "docs" / "figures"


def _config(run):
    """A run's settings: config.toml (current runs) or config.json (runs before it)."""
    if (run / "config.toml").exists():
        import tomllib

        return tomllib.loads((run / "config.toml").read_text())
    return json.loads((run / "config.json").read_text())


def log(run):
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]


def summary(run):
    h = log(run)
    dts = [b["time"] - a["time"] for a, b in zip(h[1:], h[2:])]
    out = {
        "run": run.name,
        "config": _config(run),
        "steps_done": len(h),
        "first_step_s_incl_compile": h[0]["time"],
        "median_s_per_step": statistics.median(dts) if dts else None,
        "final_loss_mean_last20": statistics.mean(x["loss"] for x in h[-20:]),
        "final_alpha": h[-1]["alpha"],
        "mean_newton_steps": statistics.mean(x["newton_steps"] for x in h),
        "failed_steps": sum(x["failed"] > 0 for x in h),
    }
    m = run / "metrics.json"
    if m.exists():
        out["test_metrics"] = json.loads(m.read_text())
    return out


def timing(root, L):
    res = {}
    for s in ("deer", "sequential"):
        run = root / f"time-{s}-L{L}"
        if (run / "metrics.jsonl").exists():
            h = [x for x in log(run) if x["step"] >= run_steps(run)]
            dts = [b["time"] - a["time"] for a, b in zip(h[1:], h[2:])]
            res[s] = {
                "median_s_per_step": statistics.median(dts) if dts else None,
                "steps_timed": len(dts),
                "mean_newton_steps": statistics.mean(x["newton_steps"] for x in h) if h else None,
            }
    return res


def run_steps(run):
    return _config(run)["steps"] - 10


meta = {
    "device": "CPU (2 cores shared by ~7 agents; load average ~20 during the runs)",
    "backend": jax.default_backend(),
    "jax": jax.__version__,
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    "data": "../shared/data/lorenz63 (train: 5% noise; test: noise-free), 100000 x 3",
}
out = dict(meta)
for name, root in (("steps1000", Path("runs")), ("steps200", Path("runs2"))):
    runs = {}
    for L in (200, 1000, 10000, 100000):
        r = root / f"shplrnn-L{L}"
        if (r / "metrics.jsonl").exists():
            runs[f"shplrnn-L{L}"] = summary(r)
            t = timing(root, L)
            if t:
                runs[f"shplrnn-L{L}"]["timing_at_trained_state"] = t
    r = root / "lru-L10000"
    if (r / "metrics.jsonl").exists():
        runs["lru-L10000"] = summary(r)
    out[name] = runs
(R / "dsr-lorenz63.json").write_text(json.dumps(out, indent=1))
for run in sorted(Path("runs").glob("*-L*")):
    for png in ("attractor", "spectra", "curves"):
        src = run / f"{png}.png"
        if src.exists():
            shutil.copy(src, F / f"dsr_{run.name}_{png}.png")
print(json.dumps(out, indent=1)[:3000])
