"""Learning curves and the results table of the docs/lm.md runs (from benchmarks/lm_compare.py).

    python benchmarks/lm_plot.py

Reads benchmarks/results/lm/<run>/{metrics.jsonl,result.json}, writes
docs/figures/lm_curves.png and prints the Markdown table of docs/lm.md.
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script: no display
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "lm"


def load(run: Path) -> tuple[list[dict], dict, dict]:
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    result = json.loads((run / "result.json").read_text())
    config = {}
    for line in (run / "config.toml").read_text().splitlines():
        key, value = line.split(" = ", 1)
        config[key] = json.loads(value) if not value.startswith("'") else value.strip("'")
    return history, result, config


def main() -> None:
    runs = sorted(p for p in RESULTS.iterdir() if (p / "result.json").exists())
    fig, (ax_train, ax_test) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    print(
        "| run | cell | solver | parameters | steps | train bpb (last 20) | held-out bpb "
        "| Newton iters/layer | wall time (s) |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        history, result, config = load(run)
        steps = [r["step"] + 1 for r in history]
        ax_train.plot(steps, [r["bpb"] for r in history], label=run.name, lw=0.8)
        evals = [r for r in history if "test_bpb" in r]
        ax_test.plot(
            [r["step"] + 1 for r in evals], [r["test_bpb"] for r in evals], "o-", label=run.name
        )
        tail = history[-20:]
        train_bpb = sum(r["bpb"] for r in tail) / len(tail)
        iters = sum(r["newton_iters"] for r in history) / len(history)
        print(
            f"| {run.name} | {config['cell']} | {config['solver']} | {result['parameters']:,} "
            f"| {len(history)} | {train_bpb:.3f} | {result['test_bpb']:.3f} | {iters:.2f} "
            f"| {history[-1]['time']:.0f} |"
        )
    ax_train.set(xlabel="step", ylabel="bits per byte", title="training batches")
    ax_test.set(xlabel="step", title="held-out files")
    ax_test.legend(fontsize=7)
    fig.tight_layout()
    out = ROOT / "docs" / "figures" / "lm_curves.png"
    fig.savefig(out, dpi=120)
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
