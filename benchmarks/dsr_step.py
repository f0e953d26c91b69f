"""Time `paratime dsr train`'s training step against a plain JAX step of the same model.

Both steps train the same shallow PLRNN with generalized teacher forcing (identity observation
model, M = d latent states), on the same batch of `--batch` random subsequences of `--seq-len`
steps, with the same optimiser (global-norm clipping + RAdam). The plain step is what one would
write by hand: a `lax.scan` of the forced recurrence, `jax.value_and_grad` and optax. The
paratime step is `paratime.dsr.make_dsr_step` with the given solver, run through
`paratime.train.train` (the loop `paratime dsr train` uses: α updates, metrics log, progress).

The two are timed in alternation, `--rounds` rounds of `--steps` steps each, and the median
time per step and the median of the per-round ratios are printed as JSON lines.

    python benchmarks/dsr_step.py                      # the issue's four sizes, solver auto
    taskset -c 0 python benchmarks/dsr_step.py --solver sequential --latent 5 --hidden 200
"""

import argparse
import json
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import paratime
import paratime.data
from paratime import dsr

SOLVERS = {
    "auto": paratime.Auto,
    "sequential": paratime.Sequential,
    "implicit": lambda: paratime.Sequential(adjoint=paratime.ImplicitAdjoint()),
    "deer": paratime.DEER,
    "quasideer": paratime.QuasiDEER,
}


def plain_step_fn(model, data, optimizer, *, alpha, seq_len, batch_size):
    """A hand-written GTF training step: lax.scan + value_and_grad + optax."""

    def loss_fn(cell, batch):
        def one(x):
            def step(z, xt):
                f = cell(z, None)
                z = f + alpha * (xt - f)
                return z, z

            _, zs = jax.lax.scan(step, x[0], x[1:-1])
            states = jnp.concatenate([x[:1], zs])
            pred = jax.vmap(lambda z: cell(z, None))(states)
            return jnp.mean((pred - x[1:]) ** 2)

        return jnp.mean(jax.vmap(one)(batch))

    @eqx.filter_jit
    def step(cell, opt_state, key):
        starts = jax.random.randint(key, (batch_size,), 0, data.shape[0] - seq_len + 1)
        batch = jax.vmap(lambda s: jax.lax.dynamic_slice_in_dim(data, s, seq_len))(starts)
        loss, grads = eqx.filter_value_and_grad(loss_fn)(cell, batch)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(cell, eqx.is_array))
        return eqx.apply_updates(cell, updates), opt_state, loss

    return step


def run(latent, hidden, solver_name, *, batch, seq_len, steps, rounds, T=20_000):
    key = jax.random.key(0)
    if latent == 3:
        data = paratime.data.lorenz63(T, standardise=True, key=0)
    else:  # a 5-dimensional chaotic series: Lorenz-96 with 5 sites
        data = paratime.data.lorenz96(T, n=latent, standardise=True, key=0)
    data = jnp.asarray(data, jnp.float32)
    model = dsr.build_model("shplrnn", latent, latent=latent, hidden=hidden, key=key)
    optimizer = dsr.make_optimizer(1e-3, 10_000)

    # plain
    cell = model.cell
    plain = plain_step_fn(model, data, optimizer, alpha=0.1, seq_len=seq_len, batch_size=batch)
    opt_state = optimizer.init(eqx.filter(cell, eqx.is_array))

    def time_plain():
        nonlocal cell, opt_state
        t = time.perf_counter()
        for k in range(steps):
            cell, opt_state, loss = plain(cell, opt_state, jax.random.fold_in(key, k))
        jax.block_until_ready(loss)
        return (time.perf_counter() - t) / steps

    # paratime: the step of `paratime dsr train` (`dsr.fit`), aGTF, in its training loop
    # (metrics log, α updates, checkpointing off); `fit`'s one-off set-up is not timed.
    step_fn = dsr.make_dsr_step(
        data,
        optimizer,
        seq_len=seq_len,
        batch_size=batch,
        solver=SOLVERS[solver_name](),
        adaptive=True,
    )
    opt0 = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    state0 = dsr.DSRState(model, opt0, jax.random.key_data(key), jnp.asarray(0.1, data.dtype))

    def time_paratime():
        t = time.perf_counter()
        state, _ = paratime.train.train(step_fn, state0, steps=steps, progress=False)
        jax.block_until_ready(state.model)
        return (time.perf_counter() - t) / steps

    time_plain(), time_paratime()  # compile
    a, b = [], []
    for _ in range(rounds):
        b.append(time_plain())
        a.append(time_paratime())
    ratios = [x / y for x, y in zip(a, b)]
    return {
        "latent": latent,
        "hidden": hidden,
        "solver": solver_name,
        "batch": batch,
        "seq_len": seq_len,
        "paratime_ms": 1e3 * statistics.median(a),
        "plain_ms": 1e3 * statistics.median(b),
        "ratio": statistics.median(ratios),
        "backend": jax.default_backend(),
        "jax": jax.__version__,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latent", type=int, nargs="*", default=[5, 3])
    p.add_argument("--hidden", type=int, nargs="*", default=[200, 50])
    p.add_argument("--solver", choices=sorted(SOLVERS), nargs="*", default=["auto"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=200)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    for latent in args.latent:
        for hidden in args.hidden:
            for solver in args.solver:
                r = run(
                    latent,
                    hidden,
                    solver,
                    batch=args.batch,
                    seq_len=args.seq_len,
                    steps=args.steps,
                    rounds=args.rounds,
                )
                print(json.dumps(r), flush=True)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
