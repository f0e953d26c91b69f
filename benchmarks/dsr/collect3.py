"""Collect DSR evidence runs (from `evidence3.sh` / `evidence4.sh`) for docs/dsr.md.

Writes RESULT.json (one record per run: its config, training-log summary and test metrics),
optionally copies the attractor / spectra / curve plots that `paratime dsr eval` saved to
docs/figures/<PREFIX>_<run>_*.png, and prints a Markdown table.

    .venv/bin/python benchmarks/dsr/collect3.py runs/dsr4 \
        benchmarks/results/dsr-lorenz63-seqlen.json --figures dsr4
"""

import argparse
import datetime
import json
import shutil
import statistics
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "figures"


def _config(run):
    """A run's settings: config.toml (current runs) or config.json (runs before it)."""
    if (run / "config.toml").exists():
        import tomllib

        return tomllib.loads((run / "config.toml").read_text())
    return json.loads((run / "config.json").read_text())


def summary(run: Path) -> dict:
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    dts = [b["time"] - a["time"] for a, b in zip(log[1:], log[2:])]
    out = {
        "run": run.name,
        "config": _config(run),
        "steps_done": len(log),
        "train_wall_s": log[-1]["time"],
        "median_s_per_step": statistics.median(dts) if dts else None,
        "final_loss_mean_last50": statistics.mean(r["loss"] for r in log[-50:]),
        "final_alpha": log[-1]["alpha"],
        "skipped_steps": sum(r.get("skipped", 0) > 0 for r in log),
        "failed_solves": sum(r["failed"] > 0 for r in log),
    }
    if (run / "metrics.json").exists():
        out["test_metrics"] = json.loads((run / "metrics.json").read_text())
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", type=Path)
    p.add_argument("result", type=Path)
    p.add_argument("--figures", default=None, help="copy the plots with this name prefix")
    p.add_argument("--script", default="benchmarks/dsr/evidence4.sh")
    a = p.parse_args()
    root = a.runs
    runs = sorted(
        (p for p in root.iterdir() if (p / "metrics.jsonl").exists()),
        key=lambda p: (_config(p)["seq_len"], p.name),
    )
    records = [summary(r) for r in runs]
    meta = {
        "device": "cpu-amd-epyc",
        "cpu": "one core of a 2-core AMD EPYC VM (taskset -c 1), shared machine",
        "jax": jax.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": "../shared/data/lorenz63 (train: 5% noise; test: noise-free), 100000 x 3",
        "script": a.script,
        "runs": records,
    }
    a.result.write_text(json.dumps(meta, indent=1))
    for run in runs if a.figures else []:
        for kind in ("attractor", "spectra", "curves"):
            src = run / f"{kind}.png"
            if src.exists():
                shutil.copy(src, FIGURES / f"{a.figures}_{run.name}_{kind}.png")
    print("| run | L | B | steps | D_stsp | D_H | PE(20) | λ_max | α | s/step |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in records:
        c, m = r["config"], r.get("test_metrics", {})
        print(
            f"| {r['run']} | {c['seq_len']} | {c['batch_size']} | {r['steps_done']} | "
            f"{m.get('D_stsp', float('nan')):.2f} | {m.get('D_H', float('nan')):.3f} | "
            f"{m.get('PE20', float('nan')):.2e} | {m.get('lambda_max', float('nan')):+.4f} | "
            f"{r['final_alpha']:.3f} | {r['median_s_per_step']:.3f} |"
        )


if __name__ == "__main__":
    main()
