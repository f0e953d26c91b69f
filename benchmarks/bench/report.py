"""docs/benchmarks.md and its figures, generated from the results files."""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from paratime.bench import DEFAULT_SOLVERS, SOLVERS

PARATIME = [n for n in SOLVERS if SOLVERS[n][0] is not None]


_FIELDS = {
    "device",
    "date",
    "jax_version",
    "solver",
    "status",
    "cell",
    "N",
    "T",
    "batch",
    "workload",
}


def _is_bench_record(r: Any) -> bool:
    """A record of `run_bench` or `run_ablation` (other tools share benchmarks/results)."""
    if not isinstance(r, dict):
        return False
    if "experiment" in r:
        return {"device", "date", "setting", "variant", "median_s", "ratio"} <= r.keys()
    return _FIELDS <= r.keys()


def load_results(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The benchmark records of the given JSONL files (directories: every `*.jsonl` inside);
    lines written by other tools are ignored."""
    records = []
    for p in paths:
        p = Path(p)
        files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
        for f in files:
            for line in f.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    if _is_bench_record(r):
                        records.append(r)
    return records


def _fmt_t(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def _runs(records: Sequence[dict[str, Any]]) -> dict[tuple, dict[str, dict[str, Any]]]:
    """(device, point, date) -> {solver: record}: what one run measured side by side."""
    out: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        if "experiment" not in r:
            out[_point(r) + (r["date"],)][r["solver"]] = r
    return out


def _point(r: dict[str, Any]) -> tuple:
    return (r["device"], r["cell"], r["N"], r["T"], r["batch"], r["workload"])


def _latest(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (device, point, solver): the most recent measured one. Each carries
    `sequential_median_s`, Sequential's median from the same run (when it ran), so that
    speed-ups compare times measured side by side."""
    best: dict[tuple, dict[str, Any]] = {}
    for r in records:
        if "experiment" in r:
            continue
        k = _point(r) + (r["solver"],)
        old = best.get(k)
        if old is None or (r["status"] == "ok", r["date"]) >= (old["status"] == "ok", old["date"]):
            best[k] = r
    runs = _runs(records)
    out = []
    for r in best.values():
        seq = runs[_point(r) + (r["date"],)].get("Sequential")
        ok = seq is not None and seq["status"] == "ok"
        out.append(dict(r, sequential_median_s=seq["median_s"] if ok else None))
    return out


def _groups(records):
    out = defaultdict(dict)
    for r in records:
        out[_point(r)][r["solver"]] = r
    return out


def auto_check(records: Sequence[dict[str, Any]], stat: str = "min_s") -> list[dict[str, Any]]:
    """Auto's time over the best paratime solver's, at every grid point where both ran.

    `stat` is `"min_s"` (the fastest of the timed runs: for programs doing fixed work, the
    estimator least affected by other jobs on a shared machine) or `"median_s"`.
    """
    rows = []
    runs = _runs(records)
    for key, by in sorted(_groups(_latest(records)).items()):
        auto = by.get("Auto")
        if auto is None or auto["status"] != "ok":
            continue
        ran = [
            r
            for n, r in runs[key + (auto["date"],)].items()  # measured side by side with Auto
            if n in PARATIME and n != "Auto" and r["status"] == "ok"
        ]
        ran = [r for r in ran if not r["solver"].endswith("+warm")]  # needs a guess: not Auto's
        if not ran:
            continue
        best = min(ran, key=lambda r: r[stat])
        rows.append(
            dict(
                zip(("device", "cell", "N", "T", "batch", "workload"), key),
                best=best["solver"],
                ratio=auto[stat] / best[stat],
            )
        )
    return rows


def _table(by: dict[str, dict[str, Any]], solvers: Sequence[str]) -> list[str]:
    cells = []
    for n in solvers:
        r = by.get(n)
        if r is None:
            cells.append("")
        elif r["status"] != "ok":
            cells.append(
                f"skip ({r.get('reason', '')[:28]})" if r["status"] == "skipped" else "fail"
            )
        else:
            t_seq = r.get("sequential_median_s")
            ratio = f" ({t_seq / r['median_s']:.2g}×)" if t_seq and n != "Sequential" else ""
            it = f" k={r['iterations']}" if r.get("iterations") else ""
            cells.append(f"{_fmt_t(r['median_s'])}{ratio}{it}")
    return cells


def _targets(records: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    latest = _latest(records)
    groups = _groups(latest)
    for (dev, cell, N, T, batch, wl), by in sorted(groups.items()):
        if (cell, N, T, batch, wl) != ("GRU", 16, 100_000, 1, "forward"):
            continue
        d, n = by.get("DEER"), by.get("naive-DEER")
        if d and n and d["status"] == n["status"] == "ok":
            ratio = d["median_s"] / n["median_s"]
            lines.append(
                f"| {dev}: DEER ≤ 0.5 × straightforward DEER (GRU, N=16, T=1e5) | medians "
                f"{_fmt_t(d['median_s'])} vs {_fmt_t(n['median_s'])} = {ratio:.2f}× (fastest "
                f"runs: {d['min_s'] / n['min_s']:.2f}×) | {'yes' if ratio <= 0.5 else 'no'} |"
            )
    for (dev, cell, N, T, batch, wl), by in sorted(groups.items()):
        if wl != "train" or (N, batch) != (16, 1) or T < 10_000:
            continue
        fwd = groups.get((dev, cell, N, T, batch, "forward"), {}).get("DEER")
        tr = by.get("DEER")
        if fwd and tr and fwd["status"] == tr["status"] == "ok":
            ratio = tr["median_s"] / fwd["median_s"]
            lines.append(
                f"| {dev}: DEER loss+gradient ≤ 1.5 × DEER forward ({cell}, N=16, T={T:.0e}) | "
                f"medians {ratio:.2f}× (fastest runs: {tr['min_s'] / fwd['min_s']:.2f}×) | "
                f"{'yes' if ratio <= 1.5 else 'no'} |"
            )
    for stat, label in (("min_s", "fastest run"), ("median_s", "median")):
        checks = auto_check(records, stat)
        if checks:
            worst = max(checks, key=lambda r: r["ratio"])
            bad = sum(r["ratio"] > 1.2 for r in checks)
            lines.append(
                f"| Auto ≤ 1.2 × best solver at every grid point ({label}) | worst "
                f"{worst['ratio']:.2f}× ({worst['cell']} N={worst['N']} T={worst['T']:.0e} "
                f"B={worst['batch']} {worst['workload']}, best {worst['best']}); {bad} of "
                f"{len(checks)} points over 1.2× | {'yes' if bad == 0 else 'no'} |"
            )
    for name, bound in (("QuasiDEER", 20.0), ("DEER-chunked", None)):
        rows = [
            r
            for r in latest
            if r["solver"] == name
            and r["status"] == "ok"
            and r["workload"] == "forward"
            and r.get("working_bytes_per_TN")
            and r["T"] >= 100_000
        ]
        if rows:
            worst = max(rows, key=lambda r: r["working_bytes_per_TN"])
            if bound is not None:
                lines.append(
                    f"| {name} working memory ≤ ~20 bytes·T·N (float32, T ≥ 1e5) | worst "
                    f"{worst['working_bytes_per_TN']:.1f} bytes·T·N ({worst['cell']} "
                    f"N={worst['N']} T={worst['T']:.0e} B={worst['batch']}) | "
                    f"{'yes' if worst['working_bytes_per_TN'] <= bound * 1.1 else 'no'} |"
                )
            else:
                dense = {
                    (r["cell"], r["N"], r["T"], r["batch"]): r
                    for r in latest
                    if r["solver"] == "DEER" and r["status"] == "ok" and r["workload"] == "forward"
                }
                pairs = [(r, dense.get((r["cell"], r["N"], r["T"], r["batch"]))) for r in rows]
                pairs = [(c, d) for c, d in pairs if d and d.get("working_bytes")]
                if pairs:
                    c, d = max(pairs, key=lambda p: p[0]["N"] * p[0]["T"])
                    lines.append(
                        f"| DEER chunked (chunk 1000) memory bounded | {c['cell']} N={c['N']} "
                        f"T={c['T']:.0e}: {c['working_bytes'] / 1e6:.0f} MB vs unchunked "
                        f"{d['working_bytes'] / 1e6:.0f} MB | see table |"
                    )
    return lines


def write_report(
    records: Sequence[dict[str, Any]],
    path: str | Path = "docs/benchmarks.md",
    *,
    figures: str | Path = "docs/figures",
    notes: str = "",
) -> Path:
    """Write the markdown summary (and `bench_*.png` figures) from benchmark records.

    **Arguments:**

    - `records`: from `load_results`.
    - `path`: the markdown file.
    - `figures`: the directory of the PNG figures (linked relative to `path`).
    - `notes`: extra markdown placed before the tables (e.g. the list of techniques tried).

    **Returns:**

    The path written.
    """
    from .figures import plot_memory, plot_speedup

    path, figures = Path(path), Path(figures)
    latest = _latest(records)
    devices = sorted({r["device"] for r in latest})
    out = [
        "# Benchmarks",
        "",
        "*Generated by `python -m benchmarks.bench report` from "
        "`benchmarks/results/*.jsonl`; do not edit by hand.*",
        "",
    ]
    out += [INTRO, ""]
    out += [
        "## Environment",
        "",
        "| device | jax | date | CPU | cores | load avg (min–max) |",
        "|---|---|---|---|---|---|",
    ]
    for dev in devices:
        rs = [r for r in latest if r["device"] == dev]
        loads = [r["load_avg"] for r in rs if r.get("load_avg") is not None]
        load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "–"
        r0 = rs[0]
        out.append(
            f"| {dev} | {r0['jax_version']} | {max(r['date'] for r in rs)[:10]} | "
            f"{r0['cpu']} | {r0['cpu_count']} | {load} |"
        )
    out += ["", "## Targets", ""] + _targets(records) + [""]
    if notes:
        out += [notes, ""]
    rel = lambda p: Path(p).relative_to(path.parent) if path.parent in Path(p).parents else p  # noqa: E731
    for dev in devices:
        rs = [r for r in latest if r["device"] == dev]
        out += [f"## Results on {dev}", ""]
        for cell, batch, wl in sorted({(r["cell"], r["batch"], r["workload"]) for r in rs}):
            for kind, fn in (("speedup", plot_speedup), ("memory", plot_memory)):
                fig = figures / f"bench_{dev}_{cell}_b{batch}_{wl}_{kind}.png"
                if fn(rs, fig, cell=cell, batch=batch, workload=wl):
                    out.append(f"![{kind} {cell} batch {batch} {wl}]({rel(fig)})")
            sub = [r for r in rs if (r["cell"], r["batch"], r["workload"]) == (cell, batch, wl)]
            solvers = [s for s in DEFAULT_SOLVERS if any(r["solver"] == s for r in sub)]
            out += [
                "",
                f"### {cell}, batch {batch}, {wl}",
                "",
                "Median time (speed-up over Sequential, measured in the same run) and Newton "
                "iterations k.",
                "",
                "| N | T | " + " | ".join(solvers) + " |",
                "|---|---|" + "---|" * len(solvers),
            ]
            by_point = defaultdict(dict)
            for r in sub:
                by_point[(r["N"], r["T"])][r["solver"]] = r
            for (N, T), by in sorted(by_point.items()):
                out.append(f"| {N} | {T:.0e} | " + " | ".join(_table(by, solvers)) + " |")
            out.append("")
        mem = [
            r
            for r in rs
            if r.get("working_bytes_per_TN") and r["workload"] == "forward" and r["batch"] == 1
        ]
        if mem:
            out += [
                "### Working memory (forward, batch 1), bytes per T·N (XLA compiled "
                "temporaries + outputs)",
                "",
            ]
            solvers = [s for s in DEFAULT_SOLVERS if any(r["solver"] == s for r in mem)]
            out += [
                "| cell | N | T | " + " | ".join(solvers) + " |",
                "|---|---|---|" + "---|" * len(solvers),
            ]
            pts = defaultdict(dict)
            for r in mem:
                pts[(r["cell"], r["N"], r["T"])][r["solver"]] = r["working_bytes_per_TN"]
            for (cell, N, T), by in sorted(pts.items()):
                vals = [f"{by[s]:.1f}" if s in by else "" for s in solvers]
                out.append(f"| {cell} | {N} | {T:.0e} | " + " | ".join(vals) + " |")
            out.append("")
        errs = [r for r in rs if r["status"] == "ok" and r.get("rel_dev") is not None]
        if errs:
            worst = max(errs, key=lambda r: r["rel_dev"])
            out += [
                f"Largest deviation from Sequential (relative to the largest value): "
                f"{worst['rel_dev']:.2e} ({worst['solver']}, {worst['cell']} N={worst['N']} "
                f"T={worst['T']:.0e} {worst['workload']}).",
                "",
            ]
        skipped = [r for r in rs if r["status"] != "ok"]
        if skipped:
            out += [
                f"{len(skipped)} (point, solver) pairs were skipped or failed; their "
                "reasons are in the results file (`status`, `reason`).",
                "",
            ]
    out += ablation_section(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


def ablation_section(records: Sequence[dict[str, Any]]) -> list[str]:
    """The techniques tried, measured side by side (records with an `experiment` field). Each
    (device, experiment, setting) shows the variants of its latest run only, so that the times
    and ratios in a group were measured together."""
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in records:
        if "experiment" in r:
            key = (r["device"], r["experiment"], r["setting"])
            if key in runs and runs[key][0]["date"] != r["date"]:
                if r["date"] < runs[key][0]["date"]:
                    continue
                del runs[key]
            runs.setdefault(key, []).append(r)
    if not runs:
        return []
    out = [
        "## Techniques tried (measured side by side, same process, interleaved)",
        "",
        "Each group is one run: its variants were timed in alternation in one process (the run's",
        "date and the load average during it are given; earlier runs stay in the results file).",
        "",
        "| technique | setting | variant | median | vs first variant | memory (B·T·N) | kept "
        "| run (load) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rs in runs.values():
        for r in rs:
            mem = r.get("working_bytes_per_TN")
            out.append(
                f"| {r['experiment']} | {r['setting']} | {r['variant']} | "
                f"{_fmt_t(r['median_s'])} | {r['ratio']:.2f}× | {f'{mem:.1f}' if mem else ''} | "
                f"{r.get('kept', '')} | {r['device']} {r['date'][:16]} "
                f"({r.get('load_avg', float('nan')):.1f}) |"
            )
    return out + [""]


INTRO = """\
Every solver of paratime is timed against the sequential scan (`Sequential`, i.e. `lax.scan`
through `unroll`), a plain `lax.scan` of the cell, a straightforward DEER written without any of
paratime's engineering (`vmap(jacfwd)` Jacobians, `lax.associative_scan`, a while loop;
`paratime.bench.naive_deer`), and, where PyTorch is installed, `nn.GRU`/`nn.LSTM` with the same
shapes: cuDNN on a GPU (`cuDNN`), PyTorch's CPU kernels on a CPU (`torch-CPU`).
Per point: the median, min and max of ≥ 5 timed runs after a warm-up (`block_until_ready`),
compile time separately, Newton iterations, XLA's compiled memory analysis (temporaries +
outputs: "working memory"), and the deviation from Sequential (states for `forward`, loss and
gradients for `train` = loss plus gradient w.r.t. the cell). float32, input size 4; LSTM
N is the hidden size (its state has 2N numbers). Ratios in the tables are speed-ups over
Sequential at the same point (> 1: faster).

**Load caveat.** The CPU results come from a 2-core virtual machine shared with several other
jobs (its load average is recorded with every point and summarised below). Absolute times are
therefore noisy, by up to a factor of ~2 between runs. The solvers of one grid point are timed
in interleaved rounds (each round runs every solver once, or, for calls under 2 s, several
times back to back), so their *ratios* are far more reliable than the absolute times.

Reproduce: `paratime bench --quick` (< 2 min), `paratime bench` (the sweep; bounded by
`--max-call-seconds` and `--time-budget`), `python -m benchmarks.bench report` (this page).
"""
