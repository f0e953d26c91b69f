"""Compare two or more rounds of `paratime bench` results from two source trees (before/after a
change), run alternately on one machine: per point and solver, the new/old ratio of the
median times (each side's median over its rounds), and how `Auto` does against the best of
the other solvers on each side.

    git worktree add ../before <commit>
    for r in 1 2; do for side in old new; do
      PYTHONPATH=$([ $side = old ] && echo ../before/src || echo src) python -m paratime.cli \\
        bench --cell GRU --cell LSTM --cell Elman --T 1000 --T 10000 --T 100000 --N 16 --N 64 \\
        --batch 1 --batch 8 --workload forward --workload train --solver sequential \\
        --solver deer --solver auto --no-progress --out-dir runs/bench-$side$r
    done; done
    python benchmarks/bench_ab.py --old runs/bench-old1 runs/bench-old2 \\
        --new runs/bench-new1 runs/bench-new2 [--json benchmarks/results/bench-ab.json]
"""

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

KEY = ("cell", "N", "T", "batch", "workload", "solver")


def load(dirs: list[Path]) -> dict[tuple, list[float]]:
    times: dict[tuple, list[float]] = defaultdict(list)
    for d in dirs:
        for f in sorted(Path(d).glob("*.jsonl")):
            for line in f.read_text().splitlines():
                r = json.loads(line)
                if r.get("status") == "ok":
                    times[tuple(r[k] for k in KEY)].append(r["median_s"])
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", nargs="+", type=Path, required=True)
    p.add_argument("--new", nargs="+", type=Path, required=True)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    old, new = load(a.old), load(a.new)
    rows = []
    for key in sorted(set(old) & set(new), key=str):
        o, n = statistics.median(old[key]), statistics.median(new[key])
        rows.append({**dict(zip(KEY, key)), "old_s": o, "new_s": n, "ratio": n / o})
    by_solver = defaultdict(list)
    for r in rows:
        by_solver[r["solver"]].append(r["ratio"])
    print("| solver | points | new/old: median | min | max |")
    print("|---|---:|---:|---:|---:|")
    for s, rs in sorted(by_solver.items()):
        print(f"| {s} | {len(rs)} | {statistics.median(rs):.3f} | {min(rs):.3f} | {max(rs):.3f} |")
    # Auto against the fastest of the other solvers at each point, on each side.
    points = defaultdict(dict)
    for r in rows:
        points[tuple(r[k] for k in KEY[:-1])][r["solver"]] = r
    print("\n| side | points | Auto / fastest other: median | max | points where Auto > 1.10× |")
    print("|---|---:|---:|---:|---:|")
    summary = {}
    for side in ("old_s", "new_s"):
        ratios = []
        for sol in points.values():
            if "Auto" in sol and len(sol) > 1:
                best = min(v[side] for k, v in sol.items() if k != "Auto")
                ratios.append(sol["Auto"][side] / best)
        worse = sum(x > 1.10 for x in ratios)
        summary[side] = {"median": statistics.median(ratios), "max": max(ratios), "worse": worse}
        print(f"| {side[:3]} | {len(ratios)} | {statistics.median(ratios):.3f} | "
              f"{max(ratios):.3f} | {worse} |")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "auto_vs_fastest": summary}, indent=1))


if __name__ == "__main__":
    main()
