"""Where a trained DSR model's free runs leave the data and overflow.

    python benchmarks/dsr/overflow_probe.py RUN_DIR TRAIN.npy [--every 40] [--steps 800]

Runs the last checkpoint of RUN_DIR freely from every `--every`-th training point for
`--steps` steps and prints how many runs escape (leave the data's range by more than its
span, or overflow), how many of those first leave the range below its minimum, and for the
first escaped run the observed state and the largest |eigenvalue| of the model's Jacobian
where it leaves the range and 3 and 6 steps later, beside 1/(1 − α) for the run's last α
(the expansion per step that the forcing of aGTF keeps bounded in training).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from paratime import dsr

p = argparse.ArgumentParser()
p.add_argument("run")
p.add_argument("train")
p.add_argument("--every", type=int, default=40)
p.add_argument("--steps", type=int, default=800)
a = p.parse_args()

_, state, step, _ = dsr.load_run(a.run, "last")
model, cell = state.model, state.model.cell
x = np.load(a.train)
lo, hi = x.min(0), x.max(0)
span = hi - lo
z = model.observation.lift(jnp.asarray(x[:: a.every]))
step_fn = jax.jit(jax.vmap(cell))
zs = []
for _ in range(a.steps):
    z = step_fn(z)
    zs.append(np.asarray(z))
traj = np.stack(zs, 1)  # (starts, steps, M)
obs = np.asarray(jax.vmap(jax.vmap(model.observation))(jnp.asarray(traj)))
outside = (obs < lo - span) | (obs > hi + span) | ~np.isfinite(obs)
escaped = outside.any(axis=(1, 2))
alpha = float(state.alpha)
print(f"{a.run}: step {step}, alpha {alpha:.3f}, 1/(1 - alpha) = {1 / (1 - alpha):.2f}")
print(f"free runs from {len(z)} training points, {a.steps} steps: {escaped.sum()} escaped")
if escaped.any():
    out_of_range = (obs < lo) | (obs > hi)
    first = out_of_range.any(2).argmax(1)  # per run: the first step outside the data's range
    runs = np.flatnonzero(escaped)
    below = sum(bool((obs[i, first[i]] < lo).any()) for i in runs)
    print(f"  {below} of the {len(runs)} escaped runs leave the range below its minimum")
    i = int(runs[0])
    print(f"  data range {np.round(lo, 2)} .. {np.round(hi, 2)}")
    for t in (int(first[i]), int(first[i]) + 3, int(first[i]) + 6):
        jac = cell.value_and_jacobian(jnp.asarray(traj[i, t]))[1]
        eig = np.abs(np.linalg.eigvals(np.asarray(jac))).max()
        print(f"  run {i}, step {t}: x = {np.round(obs[i, t], 2)}, largest |eigenvalue| {eig:.2f}")
