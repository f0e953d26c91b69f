"""The per-seed table of DSR runs: test metrics (`paratime dsr eval`), the selected step, time.

    python benchmarks/dsr/seeds_table.py runs/defaults/lorenz63-s*

Prints a Markdown table and writes the rows as JSON to stdout's last line.
"""

import json
import sys
from pathlib import Path

rows = []
print("| run | selected step | D_stsp ↓ | D_H ↓ | PE(20) ↓ | λ_max | train s |")
print("|---|---:|---:|---:|---:|---:|---:|")
for arg in sys.argv[1:]:
    run = Path(arg)
    if not (run / "metrics.json").exists():
        continue
    m = json.loads((run / "metrics.json").read_text())
    log = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines() if s]
    row = {
        "run": run.name,
        "step": m.get("step"),
        "D_stsp": m["D_stsp"],
        "D_H": m["D_H"],
        "PE20": m.get("PE20"),
        "lambda_max": m.get("lambda_max"),
        "train_s": log[-1]["time"] if log else None,
        "val": [(r["step"] + 1, r["val_D_stsp"]) for r in log if "val_D_stsp" in r],
    }
    rows.append(row)
    print(
        f"| {row['run']} | {row['step']} | {row['D_stsp']:.2f} | {row['D_H']:.3f} | "
        f"{row['PE20']:.4f} | {row['lambda_max']:+.4f} | {row['train_s']:.0f} |"
    )
print(json.dumps(rows))
