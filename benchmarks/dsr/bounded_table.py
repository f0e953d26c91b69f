"""The per-seed table of round 12 in docs/dsr.md: for each run whose model the bounded one
replaced, the restarts' validation scores in the order trained (the selected one in bold),
the test D_H and λ_max of the selected restart, what round 11's rule (the first three
restarts, the best kept) would have kept from the same runs, and the wall time.

    python benchmarks/dsr/issue23_collect.py OUT.json RUN_DIR...   # after `paratime dsr eval`
                                                                  # of each RUN_DIR/bounded-*
    python benchmarks/dsr/bounded_table.py OUT.json
"""

import json
import statistics
import sys

rows = [r for r in json.load(open(sys.argv[1])) if "bounded" in r]
for r in rows:
    for x in r["bounded"]["restarts"]:
        if "D_H" not in x:
            sys.exit(f"{r['run']}/{x['run']} has no test metrics: run `paratime dsr eval` on it")
print("| seed | restarts | validation scores | test D_H (λ_max) | round 11's rule: D_H | wall s |")
print("|---|---|---|---|---|---|")
new, old = [], []
for r in sorted(rows, key=lambda r: r["seed"]):
    record = r["bounded"]
    restarts = record["restarts"]
    scores = ", ".join(
        f"**{x['best_score']:.2f}**" if x["run"] == record["selected"] else f"{x['best_score']:.2f}"
        for x in restarts
    )
    first = min((x for x in restarts[:3] if x["best_step"] >= 0), key=lambda x: x["best_score"])
    kept = next(x for x in restarts if x["run"] == record["selected"])
    new.append(kept["D_H"])
    old.append(first["D_H"])
    print(
        f"| {r['seed']} | {len(restarts)} | {scores} | {kept['D_H']:.3f} "
        f"({kept['lambda_max']:.3f}) | {first['D_H']:.3f} | {r['wall_s']} |"
    )
median = statistics.median
print(f"\nmedian test D_H: {median(new):.3f} (round 11's rule: {median(old):.3f})")
