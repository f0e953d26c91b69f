"""The sweep: every solver of a grid point compiled, then timed side by side (interleaved)."""

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from paratime.train import Progress

from ._baselines import time_torch_rnn, torch_device
from ._environment import environment
from ._grid import DEFAULT_SOLVERS, INPUT_SIZE, TORCH_DEVICES, Group, solvers_for
from ._measure import build, compile_fn, deviation, make_problem, time_call, warm_guess

MIN_SECONDS = 0.5
MAX_ROUNDS = 30
WARM_CALL_S = 2.0  # calls shorter than this run back to back, the fastest counted per round
ROUND_S = 0.02
MAX_CALLS = 10


def results_path(out_dir: str | Path, env: dict[str, Any]) -> Path:
    """`<out_dir>/<device>-<date>.jsonl`."""
    return Path(out_dir) / f"{env['device']}-{env['date'][:10]}.jsonl"


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return None


class _Budget:
    """Predicts the cost of a call from the same solver at the previous (smaller) T."""

    def __init__(self, max_call_s: float):
        self.max_call_s = max_call_s
        self.seen: dict[tuple, tuple[int, float]] = {}

    def _key(self, group: Group, name: str) -> tuple:
        return (group.cell, group.N, group.batch, group.workload, name)

    def predict(self, group: Group, name: str) -> float | None:
        prev = self.seen.get(self._key(group, name))
        return None if prev is None else prev[1] * group.T / prev[0]

    def record(self, group: Group, name: str, seconds: float) -> None:
        self.seen[self._key(group, name)] = (group.T, seconds)


def _torch_record(group: Group, repeats: int, device: str) -> dict[str, Any]:
    return time_torch_rnn(
        group.cell, group.N, INPUT_SIZE, group.T, group.batch, group.workload, repeats, device
    )


def measure_group(
    group: Group,
    names: Sequence[str],
    *,
    repeats: int,
    budget: _Budget,
    max_bytes: float,
    dtype=jnp.float32,
    on_step: Callable[[str], None] = lambda s: None,
) -> list[dict[str, Any]]:
    """Compile every solver of `group`, then time them in rounds, one call each per round."""
    cell, h0, xs = make_problem(group, dtype=dtype)
    guess = None
    base = {
        "cell": group.cell,
        "N": group.N,
        "state_size": 2 * group.N if group.cell == "LSTM" else group.N,
        "T": group.T,
        "batch": group.batch,
        "workload": group.workload,
        "dtype": jnp.dtype(dtype).name,
        "load_avg": _load(),
    }
    records: dict[str, dict[str, Any]] = {}
    ref = None  # Sequential's output; every other solver is compared with it
    calls: dict[str, Callable] = {}
    for name in names:
        rec: dict[str, Any] = dict(base, solver=name, status="ok")
        records[name] = rec
        predicted = budget.predict(group, name)
        if predicted is not None and predicted > budget.max_call_s:
            rec.update(status="skipped", reason=f"predicted {predicted:.1f} s per call > limit")
            on_step(name)
            continue
        try:
            if name in TORCH_DEVICES:
                rec.update(_torch_record(group, repeats, TORCH_DEVICES[name]))
                on_step(name)
                continue
            if name.endswith("+warm") and guess is None:
                guess = warm_guess(group, cell, h0, xs)
            args = (cell, h0, xs, guess if name.endswith("+warm") else None)
            call, info = compile_fn(build(group, name), args)
            rec.update(info)
            if info.get("peak_bytes", 0) > max_bytes:
                rec.update(status="skipped", reason=f"needs {info['peak_bytes'] / 1e9:.1f} GB")
                on_step(name)
                continue
            first, out = time_call(call)
            rec["first_run_s"] = first
            rec["iterations"] = int(np.max(np.asarray(out[1])))
            if name == "Sequential":
                ref = out[0]
            elif ref is not None:
                rec["max_dev"], rec["rel_dev"] = deviation(out[0], ref)
            del out
            if first > 3 * budget.max_call_s:
                rec.update(status="skipped", reason=f"one call took {first:.1f} s")
                budget.record(group, name, first)
            else:
                calls[name] = call
                rec["times_s"] = []
        except Exception as e:  # a failing solver is recorded, not fatal to the sweep
            rec.update(status="failed", reason=f"{type(e).__name__}: {str(e)[:300]}")
        on_step(name)
    # Interleaved rounds: every solver sees the same machine load. Fast points get more
    # rounds (until the slowest solver has run ~MIN_SECONDS in all, at most MAX_ROUNDS), so
    # that the fastest run escapes the scheduler noise of a shared machine.
    slowest = max((records[n]["first_run_s"] for n in calls), default=0.0)
    rounds = max(repeats, min(MAX_ROUNDS, int(MIN_SECONDS / max(slowest, 1e-6))))
    # A short call runs several times back to back in each round (at least twice, about
    # ROUND_S in all, at most MAX_CALLS) and the round records the fastest: otherwise it
    # would run with the caches the previous solver left (cold after a large one, warm after
    # a small one), which biased identical programs by up to 2x here.
    for _ in range(rounds):
        for name, call in calls.items():
            first = records[name]["first_run_s"]
            k = 1 if first >= WARM_CALL_S else min(MAX_CALLS, max(2, int(ROUND_S / first)))
            records[name]["times_s"].append(min(time_call(call)[0] for _ in range(k)))
    del ref
    out = []
    for name, rec in records.items():
        if "times_s" in rec:
            times = sorted(rec["times_s"])
            rec.update(median_s=float(np.median(times)), min_s=times[0], max_s=times[-1])
            budget.record(group, name, rec["median_s"])
        if "working_bytes" in rec:
            rec["working_bytes_per_TN"] = rec["working_bytes"] / (
                group.T * rec["state_size"] * group.batch
            )
        out.append(rec)
    return out


def run_bench(
    groups: Sequence[Group],
    *,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
    out_dir: str | Path = "benchmarks/results",
    repeats: int = 5,
    max_call_s: float = 5.0,
    max_bytes: float = 4e9,
    time_budget_s: float | None = None,
    progress: bool = True,
    dtype=jnp.float32,
) -> Path:
    """Run the sweep and append one JSON line per (grid point, solver) to the results file.

    **Arguments:**

    - `groups`: grid points (`paratime.bench.grid(...)` or `quick_grid()`).
    - `solvers`: names from `paratime.bench.SOLVERS` (paratime solvers and baselines).
    - `out_dir`: where `<device>-<date>.jsonl` is written (appended to).
    - `repeats`: timed runs per point after the warm-up (at least 5 for the docs).
    - `max_call_s`: skip a solver whose call is predicted (from its time at the previous T)
        to take longer than this; the skip is recorded with its reason.
    - `max_bytes`: skip a solver whose compiled peak memory exceeds this.
    - `time_budget_s`: stop starting new grid points after this many seconds (recorded).
    - `progress`: show a progress bar.

    **Returns:**

    The path of the results file.
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be at least 1; got {repeats}.")
    env = environment()
    path = results_path(out_dir, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch = torch_device(env["backend"])
    plan = [(g, solvers_for(g, solvers, torch=torch)) for g in groups]
    total = sum(len(names) for _, names in plan)
    budget = _Budget(max_call_s)
    start = time.perf_counter()
    done = 0
    with Progress(total, description="bench", enabled=progress) as bar, path.open("a") as f:
        for group, names in plan:
            label = f"{group.cell} N={group.N} T={group.T} B={group.batch} {group.workload}"
            if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
                records = [
                    dict(
                        env,
                        **dict(zip(("cell", "N", "T", "batch", "workload"), group.key())),
                        solver=n,
                        status="skipped",
                        reason="sweep time budget exhausted",
                    )
                    for n in names
                ]
                done += len(names)
            else:

                def step(name, label=label):
                    nonlocal done
                    done += 1
                    bar.update(done, {"point": label, "solver": name})

                records = [
                    dict(env, **r)
                    for r in measure_group(
                        group,
                        names,
                        repeats=repeats,
                        budget=budget,
                        max_bytes=max_bytes,
                        dtype=dtype,
                        on_step=step,
                    )
                ]
            for r in records:
                f.write(json.dumps(r) + "\n")
            f.flush()
            bar.update(done, {"point": label})
    return path
