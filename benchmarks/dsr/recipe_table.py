"""The table of `benchmarks/dsr/recipe_full.sh`: per seed and median, the GTF-protocol scores
of the last model on the package's test set and on the literature's test file.

    python benchmarks/dsr/recipe_table.py runs/recipe [--json benchmarks/results/FILE.json]
"""

import argparse
import datetime
import json
import re
import statistics
from pathlib import Path

import jax


def _scores(path: Path) -> dict | None:
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    keys = ("D_stsp", "D_H", "PE20", "lambda_max", "lambda_max_data", "generated_nonfinite")
    return {k: m.get(k) for k in keys}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    rows = []
    runs = [r for r in a.runs.glob("lorenz63-s*") if r.is_dir()]
    for run in sorted(runs, key=lambda r: int(r.name.split("-s")[-1])):
        if not (run.parent / f"{run.name}.metrics.json").exists():
            continue  # still training
        log = (run.parent / f"{run.name}.train.log").read_text()
        wall = re.search(r"wall_s=(\d+)", log)
        steps = sum(1 for _ in (run / "metrics.jsonl").open())
        last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
        rows.append({
            "seed": int(run.name.split("-s")[-1]),
            "steps": steps,
            "final_alpha": last["alpha"],
            "wall_s": int(wall.group(1)) if wall else None,
            "package_test": _scores(run.parent / f"{run.name}.metrics.json"),
            "literature_test": _scores(run.parent / f"{run.name}.metrics-lit.json"),
        })  # fmt: skip
    print("| seed | steps | final α | D_stsp | D_H | PE(20) | λ_max | "
          "literature file: D_stsp | D_H | wall s |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda v, d: "–" if v is None else f"{v:.{d}f}"
    for r in rows:
        t, lit = r["package_test"] or {}, r["literature_test"] or {}
        print(
            f"| {r['seed']} | {r['steps']} | {r['final_alpha']:.3f} | {fmt(t.get('D_stsp'), 2)} | "
            f"{fmt(t.get('D_H'), 3)} | {fmt(t.get('PE20'), 4)} | {fmt(t.get('lambda_max'), 4)} | "
            f"{fmt(lit.get('D_stsp'), 2)} | {fmt(lit.get('D_H'), 3)} | {r['wall_s']} |"
        )
    for part in ("package_test", "literature_test"):
        for k in ("D_stsp", "D_H", "PE20"):
            v = [r[part][k] for r in rows if r[part] and r[part].get(k) is not None]
            if v:
                print(f"median {part} {k}: {statistics.median(v):.4g} over {len(v)} seeds")
    if a.json:
        a.json.write_text(json.dumps({
            "what": "paratime dsr train --recipe gtf-lorenz63 --seed S (250 000 steps), scored "
                    "with paratime dsr eval --protocol gtf --checkpoint last",
            "command": "SEEDS='0 1 2 3 4' benchmarks/dsr/recipe_full.sh; "
                       "python benchmarks/dsr/recipe_table.py runs/recipe",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "jax": jax.__version__,
            "device": "cpu, one core per run (taskset), XLA single-threaded",
            "runs": rows,
        }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
