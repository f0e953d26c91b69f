"""The largest Lyapunov exponent λ₁ of a cell along a trajectory against the Newton
iterations DEER needs there, for untrained cells (recurrent weights scaled up until they
expand), a GRU trained to integrate its input (long memory), and the Lorenz-63 map.

Prints a Markdown table (docs/solvers.md holds its output). λ₁ and max‖J‖ are per step,
from `paratime.lyapunov` along the exact trajectory; DEER starts cold (zero guess), float64,
the default tolerances and `max_iters=T`, no fallback.

    python benchmarks/lyapunov_newton.py
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import paratime

jax.config.update("jax_enable_x64", True)
T, D, N = 1000, 3, 16


def row(name, cell, h0, xs):
    lyap = paratime.lyapunov(cell, h0, xs)
    solver = paratime.DEER(max_iters=xs.shape[0])
    sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False, fallback=None)
    code = int(sol.result._value)
    outcome = "converged" if code == 0 else paratime.RESULTS._index_to_message[code].split(":")[0]
    iters = int(sol.stats["num_steps"])
    print(
        f"| {name} | {float(lyap.largest):+.3f} | {float(lyap.max_norm):.2f} | {iters} | "
        f"{outcome} |",
        flush=True,
    )


def scaled(cell, s):
    return eqx.tree_at(lambda c: c.weight_hh, cell, cell.weight_hh * s)


def trained_gru(steps=300, length=100):
    """A GRU trained (by Sequential) to output the running sum of its first input."""
    cell = paratime.cells.GRU(D, N, key=jax.random.key(0))
    model = (
        paratime.nn.RNN(cell, paratime.Sequential()),
        eqx.nn.Linear(N, 1, key=jax.random.key(1)),
    )

    def loss(model, key):
        rnn, out = model
        xs = jax.random.normal(key, (8, length, D))
        pred = jax.vmap(lambda x: jax.vmap(out)(rnn(x))[:, 0])(xs)
        return jnp.mean((pred - jnp.cumsum(xs[..., 0], axis=1)) ** 2)

    model, history = paratime.train.fit(
        loss, model, optax.adam(1e-2), steps=steps, key=jax.random.key(2), progress=False
    )
    return model[0].cell, history[-1]["loss"]


def lorenz_step(dt=0.01):
    def f(u):
        x, y, z = u
        return jnp.stack([10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z])

    def step(u, _):
        k1 = f(u)
        k2 = f(u + dt / 2 * k1)
        k3 = f(u + dt / 2 * k2)
        k4 = f(u + dt * k3)
        return u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    return step


def main():
    xs = jax.random.normal(jax.random.key(3), (T, D))
    h0 = jnp.zeros(N)
    print(f"T = {T}, N = {N}, inputs N(0, 1); jax {jax.__version__}, {jax.devices()[0].platform}")
    print()
    print("| cell | λ₁ per step | max‖J_t‖₂ | DEER iterations | outcome |")
    print("|---|---|---|---|---|")
    gru = paratime.cells.GRU(D, N, key=jax.random.key(0))
    for s in (1, 2, 4, 8):
        row(f"GRU, untrained, W_hh × {s}", scaled(gru, s), h0, xs)
    for s in (0.5, 1.0, 2.0, 3.0):
        elman = paratime.cells.Elman(D, N, key=jax.random.key(0), weight_scale=s)
        row(f"Elman, untrained, weight scale {s}", elman, h0, xs)
    cell, final = trained_gru()
    row(f"GRU, trained to integrate (loss {final:.3f})", cell, h0, xs)
    step = lorenz_step()
    u0 = jax.lax.fori_loop(0, 2000, lambda i, u: step(u, None), jnp.array([1.0, 1.0, 1.0]))
    row("Lorenz-63 map, RK4 dt = 0.01", step, u0, jnp.zeros((T, 0)))


if __name__ == "__main__":
    main()
