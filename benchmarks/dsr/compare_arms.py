"""Two arms of the dysts benchmark side by side, from the JSON files `dysts.py table --json`
writes: each flow's test D_stsp and D_H in units of its floor, the steps trained and the
training time, and whether the two arms kept the same model (equal metrics to the bit).

    python benchmarks/dsr/compare_arms.py OLD.json NEW.json [--names OLD NEW]
"""

import argparse
import json
from pathlib import Path


def _cell(r: dict) -> str:
    return (
        f"{r['D_stsp'] / r['floor_D_stsp']:.2f} / {r['D_H'] / r['floor_D_H']:.2f} | "
        f"{r['steps_trained']}, {r['train_seconds']:.0f}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--names", nargs=2, default=["old", "new"])
    args = p.parse_args()
    old = {r["name"]: r for r in json.loads(args.old.read_text())}
    new = {r["name"]: r for r in json.loads(args.new.read_text())}
    a, b = args.names
    print(
        f"| flow | {a}: D_stsp / D_H (× floor) | steps, s | {b}: D_stsp / D_H (× floor) "
        "| steps, s | same model |"
    )
    print("|---|---:|---:|---:|---:|---|")
    same = 0
    for name, x in old.items():
        y = new.get(name)
        if y is None or x.get("D_stsp") is None or y.get("D_stsp") is None:
            continue
        equal = (x["D_stsp"], x["D_H"]) == (y["D_stsp"], y["D_H"])
        same += equal
        print(f"| {name} | {_cell(x)} | {_cell(y)} | {'yes' if equal else 'no'} |")
    print(f"\n{same} of the flows in both kept the same model.")


if __name__ == "__main__":
    main()
