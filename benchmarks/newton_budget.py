"""Newton budget: iterations to tolerance for every shipped cell against T, in float32.

For each cell (untrained, and after a brief training on a memory task) and each length T it
records the Newton iterations `DEER` needs to reach its default tolerance from a zero guess,
the residual and the error against `Sequential` left after exactly three iterations (the fixed
budget ParaRNN runs: `unroll(..., solver=DEER(max_iters=3), throw=False)`), and wall times.
With `--memory` it also measures the diagonal and 2×2 cells at N = 256, T = 1e5: the compiled
working memory of a DEER solve in bytes per T·N, and the iterations.

Run (CPU; the machine is shared, so keep the grid small):

    nice -n 5 .venv/bin/python benchmarks/newton_budget.py \
        --lengths 1000 10000 100000 --out benchmarks/results/newton-budget-cpu.json
    nice -n 5 .venv/bin/python benchmarks/newton_budget.py --memory \
        --out benchmarks/results/newton-budget-memory-cpu.json

It writes one JSON object (environment, settings, one row per cell × T) and prints the
Markdown table of docs/solvers.md.
"""

import argparse
import datetime
import json
import platform
import time


def _parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--cells", nargs="+", default=None, help="a subset of the cell names")
    p.add_argument("--hidden", type=int, default=16, help="N (units) of every cell")
    p.add_argument("--inputs", type=int, default=4, help="D")
    p.add_argument("--max-iters", type=int, default=50)
    p.add_argument("--train-steps", type=int, default=150)
    p.add_argument(
        "--dense-max-numbers",
        type=float,
        default=1.5e8,
        help="skip a dense-Jacobian run whose T·N² exceeds this",
    )
    p.add_argument(
        "--memory", action="store_true", help="only the N = 256, T = 1e5 memory and iteration check"
    )
    p.add_argument(
        "--table",
        nargs="+",
        default=None,
        help="only print the Markdown table of these result files (later rows win)",
    )
    p.add_argument("--out", default=None)
    return p.parse_args()


ARGS = _parse_args()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import paratime  # noqa: E402
from paratime import cells  # noqa: E402

HAS_STRUCTURES = hasattr(paratime, "structures")
DIAGONAL = ("diagonal_gru", "cfc")  # exact Jacobian diagonal
BLOCK = ("diagonal_lstm", "block_gru", "slstm")  # exact Jacobian block-diagonal


def make_cell(name: str, D: int, N: int, key):
    """The cell and a zero initial state."""
    if name == "elman":
        return cells.Elman(D, N, key=key), jnp.zeros(N)
    if name == "gru":
        return cells.GRU(D, N, key=key), jnp.zeros(N)
    if name == "lstm":
        return cells.LSTM(D, N, key=key), (jnp.zeros(N), jnp.zeros(N))
    if name == "mingru":
        return cells.MinGRU(D, N, key=key), jnp.zeros(N)
    if name == "lru":
        return cells.LRU(D, N, key=key), jnp.zeros(N, jnp.complex64)
    if name == "diagonal_gru":
        return cells.DiagonalGRU(D, N, num_heads=2 if D % 2 == 0 else 1, key=key), jnp.zeros(N)
    if name == "diagonal_lstm":
        heads = 2 if D % 2 == 0 else 1
        return cells.DiagonalLSTM(D, N, num_heads=heads, key=key), jnp.zeros((N, 2))
    if name == "block_gru":
        return cells.BlockGRU(D, N, block_size=4, key=key), jnp.zeros(N)
    if name == "cfc":
        return cells.CfC(D, N, key=key), jnp.zeros(N)
    if name == "slstm":
        return cells.SLSTM(D, N, num_heads=4 if D % 4 == 0 else 1, key=key), jnp.zeros((N, 3))
    raise ValueError(f"unknown cell {name!r}")


ALL_CELLS = [
    "elman",
    "gru",
    "lstm",
    "mingru",
    "lru",
    "diagonal_gru",
    "diagonal_lstm",
    "block_gru",
    "cfc",
    "slstm",
]


class _Autodiff(eqx.Module):
    """A cell seen as a plain callable, so that DEER takes its dense Jacobian by autodiff
    (used for block-diagonal cells only while the engine lacks structured Jacobians; exact
    Newton either way, so the iteration counts are the same)."""

    cell: eqx.Module

    def __call__(self, h, x):
        return self.cell(h, x)


def solver_for(name: str, max_iters: int):
    """Exact Newton for the cell, in its cheapest form available."""
    if HAS_STRUCTURES or name not in DIAGONAL:
        return paratime.DEER(max_iters=max_iters)
    return paratime.QuasiDEER(max_iters=max_iters)  # the diagonal is the whole Jacobian


def newton_cell(name: str, cell):
    return _Autodiff(cell) if (name in BLOCK and not HAS_STRUCTURES) else cell


def features(states):
    """Every state leaf flattened per step (real part for a complex state): (T, F)."""
    leaves = jax.tree_util.tree_leaves(states)
    return jnp.concatenate([jnp.real(x).reshape(x.shape[0], -1) for x in leaves], axis=1)


def memory_task(key, batch: int, T: int, D: int):
    """Inputs N(0, 1) and, as targets, moving averages of three input channels with memories
    of 2, 10 and 50 steps: a task that asks the recurrence for slow modes."""
    xs = jax.random.normal(key, (batch, T, D))
    rates = jnp.array([0.5, 0.9, 0.98])

    def ema(y, x):
        y = rates * y + (1 - rates) * x[..., :3]
        return y, y

    ys = jax.lax.scan(ema, jnp.zeros((batch, 3)), jnp.swapaxes(xs, 0, 1))[1]
    return xs, jnp.swapaxes(ys, 0, 1) * 3.0


def train_briefly(name: str, cell, h0, steps: int, key):
    """A few Adam steps of cell + linear readout on the memory task (Sequential unroll);
    returns the trained cell and the first and last losses."""
    D = ARGS.inputs
    k1, k2 = jax.random.split(key)
    F = features(jax.tree_util.tree_map(lambda x: x[None], h0)).shape[1]
    readout = eqx.nn.Linear(F, 3, key=k1)
    model = (cell, readout)
    opt = optax.adam(1e-2)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    def loss_fn(model, xs, ys):
        cell, readout = model

        def one(x):
            s = paratime.unroll(cell, h0, x, solver=paratime.Sequential()).states
            return jax.vmap(readout)(features(s))

        return jnp.mean((jax.vmap(one)(xs) - ys) ** 2)

    @eqx.filter_jit
    def step(model, state, xs, ys):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, xs, ys)
        updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), state, loss

    losses = []
    for i in range(steps):
        xs, ys = memory_task(jax.random.fold_in(k2, i), 8, 256, D)
        model, state, loss = step(model, state, xs, ys)
        losses.append(float(loss))
    return model[0], losses[0], losses[-1]


def budget_row(name: str, cell, h0, T: int, key) -> dict:
    xs = jax.random.normal(key, (T, ARGS.inputs))
    ncell = newton_cell(name, cell)

    @eqx.filter_jit
    def newton(ncell, xs, max_iters):
        sol = paratime.unroll(ncell, h0, xs, solver=solver_for(name, max_iters), throw=False)
        return sol.states, sol.stats["num_steps"], sol.stats["residual"], sol.result._value

    @eqx.filter_jit
    def sequential(cell, xs):
        return paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states

    ref = jax.block_until_ready(sequential(cell, xs))
    start = time.perf_counter()
    ref = jax.block_until_ready(sequential(cell, xs))
    seq_s = time.perf_counter() - start
    row = {"T": T, "sequential_s": seq_s, "max_iters": ARGS.max_iters}
    for budget, tag in ((ARGS.max_iters, "tol"), (3, "k3")):
        out = jax.block_until_ready(newton(ncell, xs, budget))
        start = time.perf_counter()
        states, k, residual, result = jax.block_until_ready(newton(ncell, xs, budget))
        err = max(
            float(jnp.max(jnp.abs(a - b)))
            for a, b in zip(jax.tree_util.tree_leaves(states), jax.tree_util.tree_leaves(ref))
        )
        del out
        row.update(
            {
                f"{tag}_iterations": int(k),
                f"{tag}_residual": float(residual),
                f"{tag}_error": err,
                f"{tag}_converged": int(result) == 0,
                f"{tag}_s": time.perf_counter() - start,
            }
        )
    return row


def jacobian_numbers(name: str, cell, h0, T: int) -> int:
    """The numbers of one iterate's Jacobians, T times those of one step."""
    N = sum(x.size for x in jax.tree_util.tree_leaves(h0))
    if name in DIAGONAL or name in ("mingru", "lru"):
        return T * N
    if name in BLOCK and HAS_STRUCTURES:
        return T * N * cell.jacobian_structure.k
    return T * N * N


def run_budget() -> list[dict]:
    rows = []
    key = jax.random.key(0)
    for name in ARGS.cells or ALL_CELLS:
        cell0, h0 = make_cell(name, ARGS.inputs, ARGS.hidden, jax.random.fold_in(key, 1))
        start = time.perf_counter()
        trained, loss0, loss1 = train_briefly(
            name, cell0, h0, ARGS.train_steps, jax.random.fold_in(key, 2)
        )
        train_s = time.perf_counter() - start
        print(
            f"{name}: trained {ARGS.train_steps} steps in {train_s:.0f} s, "
            f"loss {loss0:.3f} -> {loss1:.3f}",
            flush=True,
        )
        for state, cell in (("untrained", cell0), ("trained", trained)):
            for T in ARGS.lengths:
                if jacobian_numbers(name, cell, h0, T) > ARGS.dense_max_numbers:
                    print(f"  {name} {state} T={T}: skipped (Jacobians too large)", flush=True)
                    continue
                row = budget_row(name, cell, h0, T, jax.random.fold_in(key, T))
                row.update(cell=name, state=state, loss_first=loss0, loss_last=loss1)
                rows.append(row)
                print(
                    f"  {name} {state} T={T}: {row['tol_iterations']} it "
                    f"(converged {row['tol_converged']}, {row['tol_s']:.2f} s); after 3: "
                    f"residual {row['k3_residual']:.1e}, error {row['k3_error']:.1e}",
                    flush=True,
                )
    return rows


def memory_row(name, cell, h0, xs, size, solver) -> dict:
    T = xs.shape[0]

    def solve(cell, xs):
        sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
        return sol.states, sol.stats["num_steps"], sol.stats["residual"]

    dynamic, static = eqx.partition(cell, eqx.is_array)
    jitted = jax.jit(lambda d, xs: solve(eqx.combine(d, static), xs))
    compiled = jitted.lower(dynamic, xs).compile()
    mem = compiled.memory_analysis()
    working = int(mem.temp_size_in_bytes) + int(mem.output_size_in_bytes)
    jax.block_until_ready(compiled(dynamic, xs))
    start = time.perf_counter()
    _, k, residual = jax.block_until_ready(compiled(dynamic, xs))
    row = {
        "cell": name,
        "solver": repr(solver),
        "N": size,
        "T": T,
        "working_bytes": working,
        "bytes_per_TN": working / (T * size),
        "iterations": int(k),
        "residual": float(residual),
        "seconds": time.perf_counter() - start,
    }
    print(
        f"{name} {row['solver']}: {row['bytes_per_TN']:.1f} bytes·T·N, {int(k)} iterations, "
        f"{row['seconds']:.1f} s",
        flush=True,
    )
    return row


def run_memory() -> list[dict]:
    """Working memory (bytes per T·N) and iterations at N = 256, T = 1e5."""
    rows = []
    N, T, D = 256, 100_000, 16
    key = jax.random.key(1)
    xs = jax.random.normal(key, (T, D))
    for name in ("diagonal_gru", "cfc", "diagonal_lstm"):
        if name == "diagonal_lstm" and not HAS_STRUCTURES:
            print("diagonal_lstm: needs the engine's BlockDiagonal DEER; skipped", flush=True)
            continue
        cell, h0 = make_cell(name, D, N, jax.random.fold_in(key, 2))
        size = sum(x.size for x in jax.tree_util.tree_leaves(h0))
        solvers = [solver_for(name, ARGS.max_iters)]
        if HAS_STRUCTURES:
            # QuasiDEER projected onto the cell's own structure is the same exact Newton
            # iteration, with the CPU's blocked evaluation pass.
            solvers.append(
                paratime.QuasiDEER(max_iters=ARGS.max_iters, structure=cell.jacobian_structure)
            )
        for solver in solvers:
            rows.append(memory_row(name, cell, h0, xs, size, solver))
    return rows


def markdown(rows: list[dict]) -> str:
    lengths = sorted({r["T"] for r in rows})
    head = (
        "| cell | weights | "
        + " | ".join(f"T = {T:.0e}".replace("e+0", "e") for T in lengths)
        + " |"
    )
    lines = [head, "|" + "---|" * (2 + len(lengths))]
    keyed = {(r["cell"], r["state"], r["T"]): r for r in rows}
    for name in dict.fromkeys(r["cell"] for r in rows):
        for state in ("untrained", "trained"):
            cells_ = []
            for T in lengths:
                r = keyed.get((name, state, T))
                if r is None:
                    cells_.append("–")
                    continue
                if r["tol_converged"]:
                    k = f"{r['tol_iterations']}"
                elif r["tol_iterations"] >= r.get("max_iters", ARGS.max_iters):
                    k = f">{r['tol_iterations']}"
                else:
                    k = f"diverged at {r['tol_iterations']}"
                cells_.append(f"{k} ({r['k3_error']:.0e})")
            lines.append(f"| {name} | {state} | " + " | ".join(cells_) + " |")
    return "\n".join(lines)


def main():
    env = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0]),
        "paratime_structured_deer": HAS_STRUCTURES,
    }
    settings = {k: v for k, v in vars(ARGS).items() if k != "out"}
    if ARGS.table:
        rows = {}
        for path in ARGS.table:
            with open(path) as f:
                for r in json.load(f)["rows"]:
                    rows[(r["cell"], r["state"], r["T"])] = r
        print(markdown(list(rows.values())))
        return
    if ARGS.memory:
        rows = run_memory()
    else:
        rows = run_budget()
        print(markdown(rows))
    if ARGS.out:
        with open(ARGS.out, "w") as f:
            json.dump({"environment": env, "settings": settings, "rows": rows}, f, indent=1)
        print(f"wrote {ARGS.out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
