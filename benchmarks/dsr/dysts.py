"""DSR on chaotic flows of the `dysts` database: the defaults (and optionally a recipe) on
noisy training series, scored on clean test series against each data set's own floor.

    pip install -r benchmarks/requirements-dysts.txt      # dysts pinned
    python benchmarks/dsr/dysts.py make runs/dysts --systems 20
    python benchmarks/dsr/dysts.py run runs/dysts [--only Lorenz,Rossler] [--arm NAME] [-- flags]
    python benchmarks/dsr/dysts.py table runs/dysts [--arm NAME] [--json results.json]

`make` picks the first `--systems` flows (by name) of dimension 3-6 with a positive published
largest Lyapunov exponent, and writes for each DIR/NAME/train.npy (20 000 samples at 50 per
dominant period, after a transient, plus 5 % Gaussian noise per channel), test.npy (10 000
clean samples from another initial condition), floor.npy (a third, clean, independent orbit
of the test length) and meta.json (the exponent per time unit and per sample). All three are
standardised with the training part's mean and std. `run` trains `paratime dsr train` (the
defaults, or the flags after `--`) and scores it with `paratime dsr eval`, one system at a
time, pinned to one core (1, or $CORE), into DIR/NAME/run (DIR/NAME/run-ARM with `--arm`,
e.g. a recipe). `table` prints the Markdown table: D_stsp, D_H and λ_max of the model against
the floor (the independent orbit scored like a model) and the system's λ_max, the steps
trained and their wall time (with those of the bounded model's restarts where the defaults
trained it in place of an overflowing model: the row says "(bounded)").

dysts 0.96 imports gluonts at import time (for writing Arrow files, not used here); if it is
absent, a stand-in module is put in its place so that the flows import.
"""

import argparse
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

PTS_PER_PERIOD = 50
TRAIN, TEST, TRANSIENT, NOISE = 20_000, 10_000, 2_000, 0.05


def _import_dysts():
    # This file is itself named dysts.py: its folder must not shadow the package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        import gluonts.dataset.arrow  # noqa: F401
    except ImportError:  # only ArrowWriter is imported, for writing data sets to disk
        arrow = types.ModuleType("gluonts.dataset.arrow")
        arrow.ArrowWriter = object  # type: ignore[attr-defined]
        for name in ("gluonts", "gluonts.dataset"):
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules["gluonts.dataset.arrow"] = arrow
    import dysts.flows
    import dysts.systems

    return dysts


def _orbit(system, n, seed):
    rng = np.random.default_rng(seed)
    ic = np.asarray(system.ic, float) * (1.0 + 0.1 * rng.normal(size=len(system.ic)))
    t, x = system.make_trajectory(
        n + TRANSIENT, init_cond=ic, pts_per_period=PTS_PER_PERIOD, return_times=True,
        method="LSODA", rtol=1e-9, atol=1e-9,
    )  # fmt: skip
    return t[TRANSIENT:], np.asarray(x)[TRANSIENT:]


def make(out: Path, count: int) -> None:
    from paratime.dsr import metrics

    dysts = _import_dysts()
    chosen = []
    for name in sorted(dysts.systems.get_attractor_list()):
        system = getattr(dysts.flows, name)()
        lyap = getattr(system, "maximum_lyapunov_estimated", None)
        if 3 <= len(system.ic) <= 6 and lyap is not None and lyap > 0:
            chosen.append((name, system, float(lyap)))
        if len(chosen) == count:
            break
    for name, system, lyap in chosen:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        try:
            t, train = _orbit(system, TRAIN, 0)
            _, test = _orbit(system, TEST, 1)
            _, other = _orbit(system, TEST, 2)
        except Exception as e:  # a stiff system the integrator gives up on
            print(f"{name}: skipped ({e})", file=sys.stderr)
            continue
        if not all(np.all(np.isfinite(a)) for a in (train, test, other)):
            print(f"{name}: skipped (non-finite orbit)", file=sys.stderr)
            continue
        rng = np.random.default_rng(3)
        noisy = train + NOISE * train.std(0) * rng.normal(size=train.shape)
        mean, std = noisy.mean(0), noisy.std(0)
        save = lambda f, a: np.save(folder / f, ((a - mean) / std).astype(np.float32))
        for file, orbit in (("train.npy", noisy), ("test.npy", test), ("floor.npy", other)):
            save(file, orbit)
        dt = float(np.median(np.diff(t)))
        z_test, z_other = (test - mean) / std, (other - mean) / std
        meta = {
            "name": name, "dim": len(system.ic), "lyapunov_per_time": lyap, "dt": dt,
            "lyapunov_per_step": lyap * dt,
            "floor_D_stsp": metrics.state_space_divergence(z_test, z_other),
            "floor_D_H": metrics.power_spectrum_distance(z_test, z_other),
        }  # fmt: skip
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))
        print(f"{name}: d={meta['dim']} λ={lyap:.3g}/time, {meta['lyapunov_per_step']:.3g}/step")


def _run_dir(folder: Path, arm: str | None) -> Path:
    return folder / ("run" if arm is None else f"run-{arm}")


def run(out: Path, only: list[str] | None, extra: list[str], arm: str | None = None) -> None:
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}
    core = os.environ.get("CORE", "1")
    cli = ["taskset", "-c", core, "nice", "-n", "10", sys.executable, "-m", "paratime.cli", "dsr"]
    for folder in sorted(p for p in out.iterdir() if (p / "meta.json").exists()):
        if only and folder.name not in only:
            continue
        run_dir = _run_dir(folder, arm)
        if (run_dir / "metrics.json").exists():
            continue
        train = [*cli, "train", "--data", str(folder / "train.npy"), "--out", str(run_dir)]
        with open(run_dir.with_suffix(".train.log"), "w") as log:
            subprocess.run([*train, "--no-progress", *extra], stdout=log, stderr=log, env=env)
        with open(run_dir.with_suffix(".eval.log"), "w") as log:
            cmd = [*cli, "eval", str(run_dir), "--data", str(folder / "test.npy")]
            subprocess.run(cmd, stdout=log, stderr=log, env=env)


def table(out: Path, json_path: Path | None, arm: str | None = None) -> None:
    rows = []
    for folder in sorted(p for p in out.iterdir() if (p / "meta.json").exists()):
        meta = json.loads((folder / "meta.json").read_text())
        run_dir = _run_dir(folder, arm)
        result = run_dir / "metrics.json"
        m = json.loads(result.read_text()) if result.exists() else {}
        row = {**meta, **{k: m.get(k) for k in ("D_stsp", "D_H", "lambda_max", "step")}}
        # The training steps taken and their wall time, with those of the restarts: of the
        # bounded model when it replaced the run's model (`--on-overflow bounded`), or of the
        # run's own model (`--restarts`).
        logs = [run_dir / "metrics.jsonl", *sorted(run_dir.glob("bounded-*/metrics.jsonl"))]
        logs += sorted(run_dir.glob("restart-*/metrics.jsonl"))
        lasts = [json.loads(f.read_text().splitlines()[-1]) for f in logs if f.exists()]
        if lasts:
            row["steps_trained"] = sum(last["step"] + 1 for last in lasts)
            row["train_seconds"] = sum(last["time"] for last in lasts)
        if (run_dir / "bounded.json").exists():
            row["bounded"] = json.loads((run_dir / "bounded.json").read_text())["selected"]
        if (run_dir / "restarts.json").exists():
            row["restart"] = json.loads((run_dir / "restarts.json").read_text())["selected"]
        rows.append(row)
    print("| system | d | D_stsp (floor) | D_H (floor) | λ_max model / system, per step "
          "| steps, train s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    fmt = lambda v, f: "—" if v is None else format(v, f)
    for r in rows:
        print(
            f"| {r['name']}{' (bounded)' if 'bounded' in r else ''}"
            f"{' (' + r['restart'] + ')' if r.get('restart') else ''} | {r['dim']} | "
            f"{fmt(r['D_stsp'], '.2f')} ({r['floor_D_stsp']:.2f}) | "
            f"{fmt(r['D_H'], '.3f')} ({r['floor_D_H']:.3f}) | "
            f"{fmt(r['lambda_max'], '.4f')} / {r['lyapunov_per_step']:.4f} | "
            f"{r.get('steps_trained', '—')}, {fmt(r.get('train_seconds'), '.0f')} |"
        )
    if json_path is not None:
        json_path.write_text(json.dumps(rows, indent=1))


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["make", "run", "table"])
    p.add_argument("out", type=Path)
    p.add_argument("--systems", type=int, default=20)
    p.add_argument("--only", default=None, help="comma-separated system names")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--arm", default=None, help="a name for these training flags (run-ARM)")
    a = p.parse_args(argv)
    if a.what == "make":
        make(a.out, a.systems)
    elif a.what == "run":
        run(a.out, a.only.split(",") if a.only else None, extra, a.arm)
    else:
        table(a.out, a.json, a.arm)


if __name__ == "__main__":
    main()
