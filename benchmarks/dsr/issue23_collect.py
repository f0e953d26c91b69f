"""Collect DSR runs into one JSON file: test metrics, selected step, where training stopped,
wall time, and the settings that differ from the defaults.

    python benchmarks/dsr/issue23_collect.py OUT.json RUN_DIR...

Each RUN_DIR is a `paratime dsr train` run scored by `paratime dsr eval` (metrics.json; a
metrics-gtf.json beside it holds the `--protocol gtf` scores); `RUN_DIR.train.log` holds the
`wall_s=` line the run scripts append; `best_score` is the run's own best validation score.
A run that trained restarts, of the bounded model (`bounded.json`) or of its own model
(`restarts.json`), adds that record (with each restart's loop time, and its test metrics
where `paratime dsr eval` scored the restart directory too); its steps and loop time include
the restarts'.
"""

import json
import re
import sys
from pathlib import Path

from paratime.dsr import TrainConfig

rows = []
defaults = TrainConfig(data="-")
for arg in sys.argv[2:]:
    run = Path(arg)
    if not (run / "metrics.json").exists():
        continue
    m = json.loads((run / "metrics.json").read_text())
    cfg = TrainConfig.from_toml(run / "config.toml")
    log = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines() if s]
    # A run that trained restarts (`--on-overflow bounded`, `--restarts`): their steps and
    # time count too (`run: null` in restarts.json is the run itself).
    kind = next((k for k in ("bounded", "restarts") if (run / f"{k}.json").exists()), None)
    record = json.loads((run / f"{kind}.json").read_text()) if kind else None
    lasts = [log[-1]] if log else []
    for r in record["restarts"] if record else []:
        if r["run"] is None:
            continue
        lines = (run / r["run"] / "metrics.jsonl").read_text().splitlines()
        lasts.append(json.loads(lines[-1]))
        r["train_loop_s"] = round(lasts[-1]["time"], 1)
        scored = run / r["run"] / "metrics.json"  # the restart scored on its own, if it was
        if scored.exists():
            r.update(
                {k: json.loads(scored.read_text()).get(k) for k in ("D_stsp", "D_H", "lambda_max")}
            )
    text = Path(str(run) + ".train.log")
    wall = re.findall(r"wall_s=(\d+)", text.read_text()) if text.exists() else []
    changed = {
        k: v
        for k, v in cfg.to_dict().items()
        if k not in ("data", "seed", "data_size", "latent") and getattr(defaults, k) != v
    }
    row = {
        "run": str(run),
        "data": cfg.data,
        "seed": cfg.seed,
        "changed": changed,
        "checkpoint": m.get("checkpoint"),
        "selected_step": m.get("step"),
        "best_score": next((h["best_score"] for h in reversed(log) if "best_score" in h), None),
        "trained_steps": sum(last["step"] + 1 for last in lasts) if lasts else None,
        "stopped_early": bool(log and log[-1].get("stop")),
        "train_loop_s": round(sum(last["time"] for last in lasts), 1) if lasts else None,
        "wall_s": int(wall[-1]) if wall else None,
        "alpha_end": log[-1].get("alpha") if log else None,
        **{k: m.get(k) for k in ("D_stsp", "D_H", "PE20", "lambda_max", "lambda_max_data")},
        "generated_nonfinite": bool(m.get("generated_nonfinite")),
    }
    if record:
        row[kind] = record
    gtf = run / "metrics-gtf.json"
    if gtf.exists():
        g = json.loads(gtf.read_text())
        row["gtf_protocol"] = {k: g.get(k) for k in ("D_stsp", "D_H", "PE20")}
    rows.append(row)
Path(sys.argv[1]).write_text(json.dumps(rows, indent=1) + "\n")
for r in rows:
    print(
        f"{r['run']}: D_stsp={r['D_stsp']:.3g} D_H={r['D_H']:.3g} step={r['selected_step']} "
        f"trained={r['trained_steps']} wall={r['wall_s']} nonfinite={r['generated_nonfinite']}"
    )
