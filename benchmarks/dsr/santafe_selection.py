"""How well do other validation scores rank the bounded model's restarts on the Santa Fe
laser? For every restart of every run given (each restart's selected model, `best.eqx`),
this scores the model on the training data only, several ways, and prints each rule's pick
per run with the pick's test D_H (from the restart's `metrics.json`, written by `paratime dsr
eval`), and the rank correlation of each score with the test D_H over all restarts.

    python benchmarks/dsr/santafe_selection.py runs/santafe runs/sf12e/default-s? [--json OUT]
    python benchmarks/dsr/santafe_selection.py runs/dysts/Bouali2 runs/dysts/Bouali2/run

DATA is any folder with the `train.npy` the runs were trained on (a dysts flow's too).

Scores (lower is better), all from 16 free runs from starts spread over the reference:
- `recorded`: the score the run selected by (worst run; D_stsp/floor + D_H/floor against the
  validation segment, the last 10 % of the training series);
- `mean`: the same with the mean over the runs in place of the worst;
- `D_H val`: the worst run's D_H alone against the validation segment;
- `D_H train` / `D_H train mean`: D_H of runs as long as the whole training series against
  it (worst / mean over the runs): a longer reference spectrum than the segment's.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from paratime import dsr
from paratime.dsr._select import _floor, _in_floors, validation_scores


def _scores(model, train, x, val, floor):
    out = {}
    for reduce in ("worst", "mean"):
        s = validation_scores(model, val, reduce=reduce)
        out["recorded" if reduce == "worst" else "mean"] = _in_floors(s, floor)
        if reduce == "worst":
            out["D_H val"] = s["val_D_H"]
        t = validation_scores(model, train, reduce=reduce)
        out["D_H train" if reduce == "worst" else "D_H train mean"] = t["val_D_H"]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data", type=Path)
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    train = np.load(args.data / "train.npy").astype(np.float32)
    x, val = dsr.split_validation(train, 0.1)
    floor = _floor(x, val)  # as the package scores, so `mean` is `restart_score`
    rows = []
    for run in args.runs:
        for restart in sorted(run.glob("bounded-*")):
            if not (restart / "metrics.json").is_file():
                continue
            _, state, step, _ = dsr.load_run(restart, "best")
            test = json.loads((restart / "metrics.json").read_text())
            row = {"run": run.name, "restart": restart.name, "step": step}
            row |= _scores(state.model, train, x, val, floor)
            row["test D_H"] = test["D_H"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    rules = ["recorded", "mean", "D_H val", "D_H train", "D_H train mean"]
    print("\n| run | " + " | ".join(rules) + " | best on test |")
    print("|---|" + "---:|" * (len(rules) + 1))
    picks = {r: [] for r in rules + ["best on test"]}
    for run in args.runs:
        mine = [r for r in rows if r["run"] == run.name]
        if not mine:
            continue
        cells = []
        for rule in rules:
            pick = min(mine, key=lambda r: r[rule])["test D_H"]
            picks[rule].append(pick)
            cells.append(f"{pick:.3f}")
        best = min(r["test D_H"] for r in mine)
        picks["best on test"].append(best)
        print(f"| {run.name} | " + " | ".join(cells) + f" | {best:.3f} |")
    print("| median | " + " | ".join(f"{np.median(picks[r]):.3f}" for r in picks) + " |")
    test = [r["test D_H"] for r in rows]
    rho = {rule: spearmanr([r[rule] for r in rows], test).statistic for rule in rules}
    print("\nSpearman ρ with the test D_H over", len(rows), "restarts:")
    print(", ".join(f"{k}: {v:.2f}" for k, v in rho.items()))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "spearman": rho}, indent=1))


if __name__ == "__main__":
    main()
