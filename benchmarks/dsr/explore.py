"""Hyper-parameter exploration for shPLRNN + GTF on the Lorenz-63 benchmark (issue #4).

Trains with `paratime.dsr._train.make_dsr_step` (the same jitted step the CLI uses) in a plain
loop, evaluating D_stsp, D_H, PE(20) and λ_max on the full noise-free test set every
`--eval-every` steps. Appends one JSON line per evaluation to `--log`.

Run pinned to one core, e.g.

    taskset -c 1 nice -n 5 env XLA_FLAGS=--xla_cpu_multi_thread_eigen=false \
        .venv/bin/python benchmarks/dsr/explore.py --tag base --batch 16 --seq-len 200 \
        --steps 3000 --lr 1e-3 --gtf adaptive --log runs/explore.jsonl
"""

import argparse
import datetime
import json
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import paratime
from paratime.data import lorenz63_test, lorenz63_train
from paratime.dsr import build_model, evaluate
from paratime.dsr._train import DSRState, initial_alpha, make_dsr_step, make_optimizer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tag", required=True)
    p.add_argument("--model", default="shplrnn")
    p.add_argument("--hidden", type=int, default=50)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=200)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--final-fraction", type=float, default=0.1)
    p.add_argument("--gtf", default="adaptive")
    p.add_argument("--alpha0", type=float, default=None, help="initial α for aGTF")
    p.add_argument("--alpha-every", type=int, default=5)
    p.add_argument("--gamma", type=float, default=0.999)
    p.add_argument("--solver", default="sequential")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--log", required=True)
    p.add_argument("--save", default=None, help="save the final model (eqx) here")
    p.add_argument("--clean", action="store_true", help="train on the noise-free test set")
    a = p.parse_args()

    test = jnp.asarray(lorenz63_test())
    train = test if a.clean else jnp.asarray(lorenz63_train())
    kmodel, ktrain = jax.random.split(jax.random.key(a.seed))
    model = build_model(a.model, 3, latent=3, hidden=a.hidden, key=kmodel)
    solver = {"sequential": paratime.Sequential(), "deer": paratime.DEER()}[a.solver]
    gtf = a.gtf if a.gtf == "adaptive" else float(a.gtf)
    opt = make_optimizer(a.lr, a.steps, final_fraction=a.final_fraction)
    alpha = initial_alpha(model, train[: a.seq_len], gtf)
    if a.alpha0 is not None:
        alpha = jnp.asarray(a.alpha0, train.dtype)
    state = DSRState(
        model, opt.init(eqx.filter(model, eqx.is_inexact_array)), jax.random.key_data(ktrain), alpha
    )
    step = make_dsr_step(
        train,
        opt,
        seq_len=a.seq_len,
        batch_size=a.batch,
        solver=solver,
        adaptive=gtf == "adaptive",
        alpha_every=a.alpha_every,
        gamma=a.gamma,
    )
    t_train = 0.0
    losses = []
    for k in range(a.steps):
        t0 = time.perf_counter()
        state, m = step(state, k)
        losses.append(float(m["loss"]))
        t_train += time.perf_counter() - t0
        if (k + 1) % a.eval_every == 0 or k + 1 == a.steps:
            res, _ = evaluate(state.model, test)
            rec = {
                "tag": a.tag,
                "step": k + 1,
                "loss": float(np.mean(losses[-100:])),
                "alpha": float(state.alpha),
                "newton_steps": float(m["newton_steps"]),
                "train_s": round(t_train, 1),
                **{kk: v for kk, v in res.items()},
                "config": vars(a),
                "device": "cpu-amd-epyc",
                "jax": jax.__version__,
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            }
            print(
                f"[{a.tag}] step {k + 1}: loss={rec['loss']:.4g} α={rec['alpha']:.3f} "
                f"D_stsp={res['D_stsp']:.3f} D_H={res['D_H']:.3f} PE20={res['PE20']:.4g} "
                f"λ={res['lambda_max']:.4f} ({t_train:.0f}s train)",
                flush=True,
            )
            with open(a.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
    if a.save:
        eqx.tree_serialise_leaves(a.save, state.model)


if __name__ == "__main__":
    main()
