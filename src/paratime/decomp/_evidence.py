"""The measured comparison behind `docs/decomp.md`: BPTT against the decomposed methods."""

import datetime
import platform
import statistics
from typing import Any

import jax
import numpy as np
import optax

from ._decomposition import DecomposedProblem, Decomposition
from ._fit import fit_bptt, fit_problem
from ._model import RNN
from ._parallel import time_mesh
from ._shooting import Shooting, ShootingProblem
from ._tasks import lorenz_one_step, recall_task
from ._travel import information_travel


def _step_time(history: list[dict[str, Any]]) -> float:
    """The median wall time between consecutive logged steps (compilation excluded)."""
    times = [r["time"] for r in history]
    return statistics.median(np.diff(times[1:])) if len(times) > 3 else float("nan")


def _curve(history, per_step: int) -> dict[str, list[float]]:
    keep = [r for r in history if "loss" in r]
    out = {"grad_steps": [(r["step"] + 1) * per_step for r in keep]}
    out["loss"] = [r["loss"] for r in keep]
    for name in ("mismatch", "gap", "penalty", "consensus"):
        if name in history[0]:
            out[name] = [r[name] for r in keep]
    return out


def _summary(curve, step_time: float, target: float | None) -> dict[str, Any]:
    reached = [s for s, v in zip(curve["grad_steps"], curve["loss"]) if target and v <= target]
    return {
        "final_loss": curve["loss"][-1],
        "wall_time_per_grad_step_s": step_time,
        "grad_steps_to_target": reached[0] if reached else None,
        "curve": curve,
    }


def make_task(task: str, *, batch: int, length: int, seed: int):
    """The data of `task` (`"lorenz"` or `"recall"`) as (xs, ys)."""
    if task == "lorenz":
        return lorenz_one_step(batch, length)
    if task == "recall":
        return recall_task(jax.random.key(seed), batch, length, noise=0.3)
    raise ValueError(f"`task` must be 'lorenz' or 'recall'; got {task!r}.")


def run_evidence(
    task: str,
    *,
    steps: int = 400,
    hidden: int = 16,
    batch: int = 4,
    length: int = 512,
    num_windows: int = 8,
    overlap: int = 8,
    inner_steps: int = 5,
    lr: float = 1e-2,
    mus: tuple[float, ...] = (0.0, 1.0, 10.0, 100.0),
    freeze_every: int = 5,
    travel_steps: int = 12,
    sharded_devices: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the same GRU with BPTT, both decomposition variants and multiple shooting.

    Every method gets `steps` gradient steps of Adam(`lr`). Returns a JSON-ready dict with,
    per method, the full-sequence loss curve, the final loss, the median wall time per
    gradient step, and the gradient steps needed to come within 10 % of BPTT's final loss.
    """
    xs, ys = make_task(task, batch=batch, length=length, seed=seed)
    model = RNN.gru(xs.shape[-1], hidden, ys.shape[-1], key=jax.random.key(seed + 1))
    opt = optax.adam(lr)
    outer = steps // inner_steps
    results: dict[str, Any] = {}

    _, hist = fit_bptt(model, xs, ys, opt, steps=steps)
    bptt = {"grad_steps": [r["step"] for r in hist], "loss": [r["loss"] for r in hist]}
    target = 1.1 * bptt["loss"][-1]
    results["bptt"] = _summary(bptt, _step_time(hist), target)

    def decomp(name, cfg, mesh=None, n=outer):
        problem = DecomposedProblem(model, xs, ys, cfg, opt, mesh=mesh)
        _, h = fit_problem(problem, model, steps=n, eval_every=max(1, n // 40))
        summary = _summary(_curve(h, cfg.inner_steps), _step_time(h) / cfg.inner_steps, target)
        results[name] = summary

    for mu in mus:
        cfg = Decomposition(num_windows, overlap, mu=mu, inner_steps=inner_steps)
        decomp(f"decomp-shared-mu{mu:g}", cfg)
    cfg = Decomposition(
        num_windows, overlap, mu=10.0, variant="local", rho=1.0, inner_steps=inner_steps
    )
    decomp("decomp-local-mu10", cfg)
    if sharded_devices:
        cfg = Decomposition(num_windows, overlap, mu=10.0, inner_steps=inner_steps)
        decomp("decomp-shared-mu10-sharded", cfg, time_mesh(sharded_devices), n=outer // 4)

    def shoot(name, cfg):
        problem = ShootingProblem(model, xs, ys, cfg, opt)
        _, h = fit_problem(problem, model, steps=steps, eval_every=max(1, steps // 40))
        results[name] = _summary(_curve(h, 1), _step_time(h), target)

    shoot("shooting", Shooting(num_windows, mu=10.0))
    shoot(f"shooting-freeze{freeze_every}", Shooting(num_windows, 10.0, freeze_every))
    shoot("shooting-every-step", Shooting(length, mu=10.0))

    travel = {}
    for k in (1, freeze_every):
        cfg = Shooting(num_windows, mu=10.0, freeze_every=k, train_params=False)
        problem = ShootingProblem(model, xs, ys, cfg, optax.sgd(1.0))
        travel[f"freeze{k}"] = np.asarray(information_travel(problem, model, travel_steps)).tolist()

    return {
        "task": task,
        "config": {
            "steps": steps,
            "hidden": hidden,
            "batch": batch,
            "length": length,
            "num_windows": num_windows,
            "overlap": overlap,
            "inner_steps": inner_steps,
            "lr": lr,
            "mus": list(mus),
            "freeze_every": freeze_every,
            "seed": seed,
            "solver": "Sequential inside every window and for BPTT",
        },
        "device": f"{jax.devices()[0].device_kind} x{jax.device_count()} ({platform.machine()})",
        "jax_version": jax.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "bptt_target_loss": target,
        "methods": results,
        "information_travel": travel,
    }
