"""One-step and closed-loop (20-step) NRMSE of every ELM architecture on every dataset,
against predicting the training mean and against persistence; with `--diagnose`, the λ sweep
of the Santa Fe GRU-ELM that shows why its closed loop used to blow up.

    python benchmarks/elm_forecast.py \
        --out benchmarks/results/elm-forecast.json
    python benchmarks/elm_forecast.py --diagnose --out benchmarks/results/elm-forecast-lambda.json
    python benchmarks/elm_forecast.py --render --docs docs/elm.md  # tables from both JSON files
    python benchmarks/elm_forecast.py --timing  # warm fit time, lam="multistep" against "gcv"

Each row fits the library's default ELM (`lam="multistep"`, bounded forecasts) and, for
comparison, the previous default (`lam="gcv"`), whose forecast is scored both clipped and
unclipped. Everything is seeded; errors are on the held-out test tail (the last 20 % of the
windows) in original units.
"""

import argparse
import datetime
import json
import platform
import time
import warnings
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import paratime  # noqa: E402
from paratime import elm  # noqa: E402
from paratime.elm._select import origins  # noqa: E402

DATASETS = ("santafe", "mackey-glass", "lorenz63-x", "sunspots", "elnino", "co2", "nile", "narma10")


def load_task(name: str, max_length: int | None):
    if name == "narma10":
        u, y = paratime.data.narma10(2000, key=0)
        return elm.io_task(u, y, name=name)
    x = paratime.data.load(name)
    return elm.autoregressive_task(x[:max_length], name=name)


def environment() -> dict:
    dev = jax.devices()[0]
    return {
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "cpu": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def row(name: str, arch: str, args) -> dict:
    data = elm.prepare(load_task(name, args.max_length), args.window)
    key = jax.random.key(args.seed)
    out: dict = {"dataset": name, "arch": arch, "windows": len(data.targets)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ill-conditioning and divergence are recorded below
        t0 = time.perf_counter()
        model, info = elm.fit(data, elm.FitSettings(arch=arch, hidden=args.hidden), key=key)
        out["fit_seconds"] = time.perf_counter() - t0
        out["default"] = {"lam": info["lam"], **elm.evaluate(model, data)}
        old, old_info = elm.fit(
            data, elm.FitSettings(arch=arch, hidden=args.hidden, lam="gcv"), key=key
        )
        out["gcv"] = {"lam": old_info["lam"], **elm.evaluate(old, data)}
        out["gcv_unbounded"] = elm.evaluate(old, data, bounded=False)
    return out


def _f(x: float) -> str:
    if x != x:
        return "–"
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.1e}"


def table(rows: list[dict]) -> str:
    head = (
        "| dataset | arch | λ | 1-step | 20-step | clipped | diverged "
        "| GCV λ: 1-step / 20-step (clipped) / 20-step (unclipped, diverged) "
        "| persistence 1 / 20 | mean 1 / 20 |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        d, g, u = r["default"], r["gcv"], r["gcv_unbounded"]
        clipped = d["multistep_clipped"]
        clipped = f"{100 * clipped:.2g} %" if clipped == clipped else "–"
        lines.append(
            f"| {r['dataset']} | {r['arch']} | {d['lam']:.2g} | {_f(d['nrmse'])} "
            f"| **{_f(d['nrmse_multistep'])}** | {clipped} "
            f"| {d['multistep_diverged']} "
            f"| {g['lam']:.2g}: {_f(g['nrmse'])} / {_f(g['nrmse_multistep'])} / "
            f"{_f(u['nrmse_multistep'])} ({u['multistep_diverged']}) "
            f"| {_f(d['nrmse_persistence'])} / {_f(d['nrmse_multistep_persistence'])} "
            f"| {_f(d['nrmse_mean'])} / {_f(d['nrmse_multistep_mean'])} |"
        )
    return head + "\n".join(lines) + "\n"


def diagnose(args) -> dict:
    """λ sweep of the Santa Fe GRU-ELM: one-step and 20-step errors, the readout's size, the
    direct link's gain and the local gain of the closed-loop map."""
    data = elm.prepare(load_task("santafe", args.max_length), args.window)
    test = data.split[2]
    starts = origins(len(test), 20, 64)
    ctx = jnp.asarray(data.inputs[test[starts]])
    rows = []
    for lam in ("gcv", 1e-4, 1e-2, 1.0, 10.0, 30.0, 100.0, 1000.0, "multistep"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, info = elm.fit(
                data,
                elm.FitSettings(arch="gru", hidden=args.hidden, lam=lam),
                key=jax.random.key(0),
            )
            bounded = elm.evaluate(model, data)
            free = elm.evaluate(model, data, bounded=False)

        def next_value(window):
            return model.predict_normalised(window[None], window[None])[0, 0]

        # the closed loop maps a window to the window shifted by one with ŷ appended; its
        # Jacobian is a companion matrix whose last row is ∂ŷ/∂window
        grads = jax.vmap(jax.grad(next_value))(ctx)[..., 0]  # (origins, w)
        w = grads.shape[1]
        companion = (
            jnp.zeros((len(ctx), w, w)).at[:, :-1, 1:].set(jnp.eye(w - 1)).at[:, -1].set(grads)
        )
        radius = np.max(np.abs(np.linalg.eigvals(np.asarray(companion))), axis=1)
        rows.append(
            {
                "lam_rule": str(lam),
                "lam": info["lam"],
                "nrmse": bounded["nrmse"],
                "nrmse_multistep": bounded["nrmse_multistep"],
                "nrmse_multistep_unbounded": free["nrmse_multistep"],
                "diverged_unbounded": free["multistep_diverged"],
                "beta_norm": float(jnp.linalg.norm(model.beta)),
                "direct_gain": float(model.beta[-1, 0]),
                "radius_median": float(np.median(radius)),
                "radius_above_1": float(np.mean(radius > 1)),
            }
        )
        print(rows[-1], flush=True)
    return {"santafe_gru_lambda_sweep": rows}


def diagnose_table(rows: list[dict]) -> str:
    head = (
        "| λ | 1-step | 20-step clipped | 20-step unclipped (diverged of 64) | ‖β‖ "
        "| direct gain β_d | median ρ(J) | ρ(J) > 1 |\n|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['lam']:.2g} ({r['lam_rule']}) | {_f(r['nrmse'])} | {_f(r['nrmse_multistep'])} "
        f"| {_f(r['nrmse_multistep_unbounded'])} ({r['diverged_unbounded']}) "
        f"| {r['beta_norm']:.3g} | {r['direct_gain']:.3g} | {r['radius_median']:.3g} "
        f"| {100 * r['radius_above_1']:.0f} % |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def timing(args, repeats: int = 3) -> None:
    """Warm fit time of `lam="multistep"` against `lam="gcv"` on the Santa Fe GRU-ELM,
    interleaved (A/B) so that both see the same load; best of `repeats` each."""
    data = elm.prepare(load_task("santafe", args.max_length), args.window)
    key = jax.random.key(args.seed)
    rules = ("gcv", "multistep")
    settings = {lam: elm.FitSettings(arch="gru", hidden=args.hidden, lam=lam) for lam in rules}
    times: dict = {lam: [] for lam in rules}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lam in rules:  # compile
            elm.fit(data, settings[lam], key=key)
        for _ in range(repeats):
            for lam in rules:
                t, c = time.perf_counter(), time.process_time()
                elm.fit(data, settings[lam], key=key)
                times[lam].append((time.perf_counter() - t, time.process_time() - c))
    for lam in rules:
        print(lam, "wall s", [round(w, 2) for w, _ in times[lam]],
              "CPU s", [round(c, 2) for _, c in times[lam]])  # fmt: skip
    best = {lam: (min(w for w, _ in v), min(c for _, c in v)) for lam, v in times.items()}
    print(
        f"multistep / gcv: wall {best['multistep'][0] / best['gcv'][0]:.2f}x, "
        f"CPU {best['multistep'][1] / best['gcv'][1]:.2f}x (best of {repeats} each)"
    )


def write_table(path: Path, marker: str, text: str) -> None:
    """Replace what lies between `<!-- marker:start -->` and `<!-- marker:end -->` in `path`."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    doc = path.read_text()
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}{end}{tail}")


def render(args) -> None:
    """Print the two tables from the JSON results, and write them into `--docs`."""
    lam_json = args.out.with_name(args.out.stem + "-lambda.json")
    rows = json.loads(args.out.read_text())["rows"]
    sweep = json.loads(lam_json.read_text())["santafe_gru_lambda_sweep"]
    print(table(rows), diagnose_table(sweep), sep="\n")
    if args.docs is not None:
        write_table(args.docs, "elm-forecast", table(rows))
        write_table(args.docs, "elm-forecast-lambda", diagnose_table(sweep))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--archs", default=",".join(elm.ARCHITECTURES))
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--max-length", type=int, default=12000, help="first N steps of each series")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--diagnose", action="store_true", help="the Santa Fe GRU λ sweep instead")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/elm-forecast.json"))
    p.add_argument("--render", action="store_true", help="only print the tables from --out")
    p.add_argument("--timing", action="store_true", help="only time multistep against gcv")
    p.add_argument("--docs", type=Path, default=None, help="with --render: rewrite its tables")
    args = p.parse_args()
    if args.render:
        return render(args)
    if args.timing:
        return timing(args)
    result = {**environment(), "args": vars(args) | {"out": str(args.out)}}
    if args.diagnose:
        result |= diagnose(args)
        print(diagnose_table(result["santafe_gru_lambda_sweep"]))
    else:
        rows = []
        for name in args.datasets.split(","):
            for arch in args.archs.split(","):
                rows.append(row(name, arch, args))
                d = rows[-1]["default"]
                print(
                    f"{name} {arch}: 1-step {d['nrmse']:.3g}, 20-step {d['nrmse_multistep']:.3g} "
                    f"(GCV unclipped {rows[-1]['gcv_unbounded']['nrmse_multistep']:.3g}), "
                    f"fit {rows[-1]['fit_seconds']:.1f} s",
                    flush=True,
                )
                result["rows"] = rows
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
