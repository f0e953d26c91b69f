"""What warm starts across training steps save: Newton iterations and step time.

    PYTHONPATH=src python benchmarks/lm_warm_start.py --steps 30 --context 1024 --batch 8

Two copies of the same model train side by side with Adam, one step each in turn (A/B
interleaved, so machine load affects both alike): one solves every layer from a cold start,
the other starts each layer's Newton solve from its trajectory of the previous step
(`paratime.nn.WarmStart`). Two regimes: the same batch every step (full-batch training, as in
dynamical-systems reconstruction or decomposition in time) and a fresh random batch of
windows every step (language-model training). Prints one JSON line per (cell, regime) and
writes them to benchmarks/results/lm/warm_start.jsonl.
"""

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import optax

from paratime.lm import LMConfig, load_corpus, make_model
from paratime.lm._corpus import sample_windows
from paratime.lm._train import _loss

ROOT = Path(__file__).resolve().parents[1]


def make_update(optimizer):
    @eqx.filter_jit
    def update(model, opt_state, windows, warm):
        (loss, warm), grads = eqx.filter_value_and_grad(_loss, has_aux=True)(model, windows, warm)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        iters = jnp.stack([jnp.mean(s) for s in warm.num_steps]).mean()
        return eqx.apply_updates(model, updates), opt_state, warm, loss, iters

    return update


def run(config: LMConfig, corpus, steps: int, fixed: bool) -> dict:
    optimizer = optax.adam(config.learning_rate)
    update = make_update(optimizer)
    model = make_model(config)
    cold = [model, optimizer.init(eqx.filter(model, eqx.is_array)), None]
    hot = [model, optimizer.init(eqx.filter(model, eqx.is_array)), None]
    rng = np.random.default_rng(0)
    first = sample_windows(corpus.train, config.batch, config.context + 1, rng)
    record = {"cold": ([], [], []), "warm": ([], [], [])}
    for step in range(steps + 1):  # step 0 compiles (both) and is not timed
        windows = (
            first if fixed else sample_windows(corpus.train, config.batch, config.context + 1, rng)
        )
        windows = jnp.asarray(windows)
        for name, state in (("cold", cold), ("warm", hot)):
            t0 = time.perf_counter()
            model, opt_state, warm, loss, iters = update(
                state[0], state[1], windows, state[2] if name == "warm" else None
            )
            loss = float(loss)
            dt = time.perf_counter() - t0
            state[:] = [model, opt_state, warm if name == "warm" else None]
            if step > 0:
                record[name][0].append(dt)
                record[name][1].append(float(iters))
                record[name][2].append(loss)
    out = {
        "cell": config.cell,
        "solver": config.solver,
        "regime": "same batch" if fixed else "random batches",
        "T": config.context,
        "batch": config.batch,
        "steps": steps,
    }
    for name, (times, iters, losses) in record.items():
        out[f"{name}_newton_iters"] = float(np.mean(iters))
        out[f"{name}_step_s"] = float(np.median(times))
        out[f"{name}_final_loss"] = losses[-1]
    out["time_ratio_warm_over_cold"] = out["warm_step_s"] / out["cold_step_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    corpus = load_corpus("stdlib")
    lines = []
    for cell, solver in (("gru", "deer"), ("diagonal_gru", "quasi-deer")):
        config = LMConfig(
            cell=cell,
            solver=solver,
            dim=32,
            hidden_size=32,
            depth=2,
            context=args.context,
            batch=args.batch,
            learning_rate=3e-3,
        )
        for fixed in (True, False):
            line = run(config, corpus, args.steps, fixed)
            print(json.dumps(line), flush=True)
            lines.append(line)
    dest = ROOT / "benchmarks" / "results" / "lm" / "warm_start.jsonl"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(json.dumps(line) + "\n" for line in lines))


if __name__ == "__main__":
    main()
