import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

d = json.load(open(str(ROOT / "benchmarks/results/dsr-lorenz63.json")))
t = json.load(open(str(ROOT / "benchmarks/results/dsr-step-time-cpu.json")))
n = json.load(open(str(ROOT / "benchmarks/results/dsr-newton-alpha.json")))
p = ROOT / "docs" / "dsr.md"
s = open(p).read()


def row(L, r, full):
    m = r.get("test_metrics")
    if not m:
        return (
            f"| {L:,} | {r['steps_done']} (unfinished) | — | — | — | — | {r['final_alpha']:.3f} | {r['mean_newton_steps']:.2f} | {r['failed_steps']} |"  # noqa: E501
            if full
            else ""
        )
    base = f"| {L:,} | " + (
        f"{r['config']['steps'] if r['steps_done'] >= r['config']['steps'] else str(r['steps_done']) + ' of ' + str(r['config']['steps'])} | "  # noqa: E501
        if full
        else ""
    )
    base += f"{m['D_stsp']:.2f} | {m['D_H']:.3f} | {m['PE20']:.4f} | {m.get('lambda_max', float('nan')):+.1e} | {r['final_alpha']:.3f} | {r['mean_newton_steps']:.2f} |"  # noqa: E501
    if full:
        base += f" {r['failed_steps']} |"
    return base


rows1000 = [
    row(L, d["steps1000"][f"shplrnn-L{L}"], True)
    for L in (200, 1000, 10000, 100000)
    if f"shplrnn-L{L}" in d["steps1000"]
]
rows200 = [row(L, d["steps200"][f"shplrnn-L{L}"], False) for L in (200, 1000, 10000, 100000)]
s = s.replace("L1000_TABLE", "\n".join(rows1000)).replace("L200_TABLE", "\n".join(rows200))
tt = [
    f"| {r['seq_len']:,} | {r['deer']['min_s']:.4f} / {r['deer']['median_s']:.4f} | {r['sequential']['min_s']:.4f} / {r['sequential']['median_s']:.4f} | {r['mean_newton_steps']:.1f} |"  # noqa: E501
    for r in t["rows"]
]
s = s.replace("TIMING_TABLE", "\n".join(tt))
lru = []
for k, steps in (("steps1000", 1000), ("steps200", 200)):
    m = d[k]["lru-L10000"]["test_metrics"]
    lru.append(
        f"| LRU + MLP readout, L = 10 000 | {steps} | {m['D_stsp']:.2f} | {m['D_H']:.3f} | {m['PE20']:.4f} |"  # noqa: E501
    )
m = d["steps1000"]["shplrnn-L10000"]["test_metrics"]
lru.append(
    f"| shPLRNN + aGTF (DEER), L = 10 000 | 1000 | {m['D_stsp']:.2f} | {m['D_H']:.3f} | {m['PE20']:.4f} |"  # noqa: E501
)
s = s.replace("LRU_TABLE", "\n".join(lru))
alphas = sorted({r["alpha"] for r in n["rows"]})
hdr = (
    "| solver, T | " + " | ".join(f"α={a:g}" for a in alphas) + " |\n|---|" + "---:|" * len(alphas)
)
lines = [hdr]
for solver, T in (("deer", 1000), ("deer", 10000), ("deer", 100000), ("quasideer", 10000)):
    rr = {r["alpha"]: r for r in n["rows"] if r["solver"] == solver and r["T"] == T}
    lines.append(
        f"| {solver}, {T:,} | "
        + " | ".join(("fail" if rr[a]["failed"] else str(rr[a]["newton_steps"])) for a in alphas)
        + " |"
    )
s = s.replace("NEWTON_TABLE", "\n".join(lines))
r1e5 = d["steps1000"].get("shplrnn-L100000", {})
fig = "![attractors](figures/dsr_shplrnn-L100000_attractor.png)" if r1e5.get("test_metrics") else ""
s = s.replace("L100000_FIGURE\n", fig + "\n" if fig else "")
open(p, "w").write(s)
