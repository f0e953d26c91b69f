"""The measured comparison behind `docs/decomp.md`: BPTT against the decomposed methods."""

import datetime
import platform
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np
import optax

from paratime.decomp import (
    RNN,
    DecomposedProblem,
    Decomposition,
    Shooting,
    ShootingProblem,
    fit_bptt,
    fit_problem,
    sequence_loss,
    time_mesh,
)
from paratime.train import TrainState, make_step

from .tasks import lorenz_one_step, recall_task
from .travel import information_travel


def _round_robin_times(timers, *, calls: int = 10, repeats: int = 3) -> dict[str, float]:
    """Seconds per gradient step of each method's jitted step: the best of `repeats` rounds
    of `calls` calls, the methods interleaved so that they share the machine's load alike."""
    best = {name: float("inf") for name in timers}
    states = {name: state for name, (_, state, _) in timers.items()}
    for name, (step, state, _) in timers.items():  # compile and warm up
        states[name] = jax.block_until_ready(step(state))
    for _ in range(repeats):
        for name, (step, _, per_call) in timers.items():
            state = states[name]
            t0 = time.perf_counter()
            for _ in range(calls):
                state = step(state)
            jax.block_until_ready(state)
            best[name] = min(best[name], (time.perf_counter() - t0) / calls / per_call)
    return best


def _bptt_timer(model, xs, ys, opt):
    step = make_step(lambda m, key: sequence_loss(m, xs, ys), opt)
    params = eqx.filter(model, eqx.is_inexact_array)
    state = TrainState(model, opt.init(params), jax.random.key(0))
    return (lambda st: step(st, 0)[0], state, 1)


def _stepper(problem):
    return lambda state: problem.step(state)[0]


def _methods(
    model, xs, ys, opt, *, num_windows, overlap, inner_steps, mus, freeze_every, sharded_devices
):
    """(name, problem, gradient steps per call) of every decomposed method compared."""
    length = xs.shape[1]
    for mu in mus:
        cfg = Decomposition(num_windows, overlap, mu=mu, inner_steps=inner_steps)
        yield f"decomp-shared-mu{mu:g}", DecomposedProblem(model, xs, ys, cfg, opt), inner_steps
    cfg = Decomposition(
        num_windows, overlap, mu=10.0, variant="local", rho=1.0, inner_steps=inner_steps
    )
    yield "decomp-local-mu10", DecomposedProblem(model, xs, ys, cfg, opt), inner_steps
    if sharded_devices:
        cfg = Decomposition(num_windows, overlap, mu=10.0, inner_steps=inner_steps)
        mesh = time_mesh(sharded_devices)
        problem = DecomposedProblem(model, xs, ys, cfg, opt, mesh=mesh)
        yield "decomp-shared-mu10-sharded", problem, inner_steps
    for name, cfg in (
        ("shooting", Shooting(num_windows, mu=10.0)),
        (f"shooting-freeze{freeze_every}", Shooting(num_windows, 10.0, freeze_every)),
        ("shooting-every-step", Shooting(length, mu=10.0)),
    ):
        yield name, ShootingProblem(model, xs, ys, cfg, opt), 1


def retime(result: dict[str, Any], *, calls: int = 5, repeats: int = 15) -> dict[str, Any]:
    """Measure again the wall time per gradient step of every method in `result` (from the
    initial state; the cost of a step does not depend on the values), with more interleaved
    rounds, and store it in `result` (best of `repeats`)."""
    c = result["config"]
    xs, ys = make_task(result["task"], batch=c["batch"], length=c["length"], seed=c["seed"])
    model = RNN.gru(xs.shape[-1], c["hidden"], ys.shape[-1], key=jax.random.key(c["seed"] + 1))
    opt = optax.adam(c["lr"])
    timers = {"bptt": _bptt_timer(model, xs, ys, opt)}
    names = set(result["methods"])
    methods = _methods(
        model,
        xs,
        ys,
        opt,
        num_windows=c["num_windows"],
        overlap=c["overlap"],
        inner_steps=c["inner_steps"],
        mus=tuple(c["mus"]),
        freeze_every=c["freeze_every"],
        sharded_devices=4 if "decomp-shared-mu10-sharded" in names else 0,
    )
    for name, problem, per_call in methods:
        timers[name] = (_stepper(problem), problem.init(model), per_call)
    for name, seconds in _round_robin_times(timers, calls=calls, repeats=repeats).items():
        result["methods"][name]["wall_time_per_grad_step_s"] = seconds
    result["timing"] = {
        "calls": calls,
        "repeats": repeats,
        "statistic": "best round",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return result


def _curve(history, per_step: int) -> dict[str, list[float]]:
    keep = [r for r in history if "loss" in r]
    out = {"grad_steps": [(r["step"] + 1) * per_step for r in keep]}
    out["loss"] = [r["loss"] for r in keep]
    for name in ("mismatch", "gap", "penalty", "consensus"):
        if name in history[0]:
            out[name] = [r[name] for r in keep]
    return out


def _summary(curve, target: float | None) -> dict[str, Any]:
    reached = [s for s, v in zip(curve["grad_steps"], curve["loss"]) if target and v <= target]
    return {
        "final_loss": curve["loss"][-1],
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
    per method, the full-sequence loss curve, the final loss, the best-of-rounds wall time per
    gradient step, and the gradient steps needed to come within 10 % of BPTT's final loss.
    """
    xs, ys = make_task(task, batch=batch, length=length, seed=seed)
    model = RNN.gru(xs.shape[-1], hidden, ys.shape[-1], key=jax.random.key(seed + 1))
    opt = optax.adam(lr)
    results: dict[str, Any] = {}
    timers: dict[str, tuple[Callable[[Any], Any], Any, int]] = {}

    trained, hist = fit_bptt(model, xs, ys, opt, steps=steps)
    bptt = {"grad_steps": [r["step"] for r in hist], "loss": [r["loss"] for r in hist]}
    target = 1.1 * bptt["loss"][-1]
    results["bptt"] = _summary(bptt, target)
    timers["bptt"] = _bptt_timer(model, xs, ys, opt)

    settings = dict(
        num_windows=num_windows,
        overlap=overlap,
        inner_steps=inner_steps,
        mus=mus,
        freeze_every=freeze_every,
        sharded_devices=sharded_devices,
    )
    for name, problem, per_call in _methods(model, xs, ys, opt, **settings):
        n = steps // per_call if per_call > 1 else steps
        if name.endswith("sharded"):
            n = max(n // 4, 5)  # the sharded run is here for its timing and equality
        state, h = fit_problem(problem, model, steps=n, eval_every=max(1, n // 40))
        results[name] = _summary(_curve(h, per_call), target)
        timers[name] = (_stepper(problem), state, per_call)

    for name, seconds in _round_robin_times(timers).items():
        results[name]["wall_time_per_grad_step_s"] = seconds

    # How far information travels: the BPTT-trained model (which has learnt the task's
    # memory), θ frozen, embeddings moved by SGD with a step that relaxes each one half-way
    # towards its left neighbour's end state (lr · μ / (batch · T) = 1/2).
    travel = {}
    for k in (1, freeze_every):
        cfg = Shooting(num_windows, mu=10.0, freeze_every=k, train_params=False)
        problem = ShootingProblem(trained, xs, ys, cfg, optax.sgd(0.5 * batch * length / 10.0))
        reach = information_travel(problem, trained, travel_steps)
        travel[f"freeze{k}"] = np.asarray(reach).tolist()

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
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "bptt_target_loss": target,
        "methods": results,
        "information_travel": travel,
    }
