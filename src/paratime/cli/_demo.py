"""`paratime demo`: every solver on a GRU, then a short training run with a progress bar."""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._config import AbstractConfig
from .._engine._recurrences import Chunked
from .._names import SolverName, make_solver
from ._options import config_options

# The solver table: every solver by its command-line name, plus DEER with bounded memory.
TABLE: dict[str, tuple[str, dict]] = {
    "sequential": ("sequential", {}),
    "deer": ("deer", {}),
    "quasi-deer": ("quasi-deer", {}),
    "elk": ("elk", {}),
    "quasi-elk": ("quasi-elk", {}),
    "deer-chunked": ("deer", {"recurrence": Chunked(1024)}),
    "auto": ("auto", {}),
}


def _pt():
    import paratime

    return paratime


def demo_signal(T: int, seed: int = 0) -> np.ndarray:
    """A generated 3-channel signal: two incommensurate sines and their product, plus noise."""
    t = np.arange(T + 1)
    rng = np.random.default_rng(seed)
    s1, s2 = np.sin(0.07 * t), np.sin(0.0113 * t + 1.0)
    x = np.stack([s1, s2, s1 * s2], axis=1) + 0.05 * rng.standard_normal((T + 1, 3))
    return x.astype(np.float32)


class Predictor(eqx.Module):
    """A GRU layer (`paratime.nn.RNN`) with a linear readout, predicting the next sample."""

    rnn: Any
    readout: eqx.nn.Linear

    def __init__(self, hidden: int, *, key):
        k1, k2 = jax.random.split(key)
        pt = _pt()
        self.rnn = pt.nn.RNN(pt.cells.GRU(3, hidden, key=k1, dtype=jnp.float32))
        self.readout = eqx.nn.Linear(hidden, 3, key=k2)

    def __call__(self, xs, solver):
        states = self.rnn.solve(xs, solver=solver).states
        return jax.vmap(self.readout)(self.rnn.outputs(states))


def solver_label(solver: Any) -> str:
    """A solver's class name, with its adjoint's when it sets one: `DEER`,
    `Sequential(adjoint=ImplicitAdjoint)`."""
    adjoint = getattr(solver, "adjoint", None)
    name = type(solver).__name__
    return f"{name}(adjoint={type(adjoint).__name__})" if adjoint is not None else name


EXPECT = (
    "What to expect: on a CPU the sequential scan wins (a few cores cannot repay Newton's "
    "extra work); on a GPU, DEER-type solvers win once sequences are long (T >= 2048), and "
    "Auto picks them there."
)


def _time(fn, repeats: int = 3) -> tuple[float, float, Any]:
    from ..bench import time_call

    compile_s, out = time_call(fn)
    times = [time_call(fn)[0] for _ in range(repeats)]
    return compile_s, float(np.median(times)), out


@dataclasses.dataclass(frozen=True)
class DemoConfig(AbstractConfig):
    """The settings of `paratime demo`; validated on construction (errors name the field)."""

    length: int = 5_000
    """Sequence length T for the table."""
    hidden: int = 16
    """GRU state size N."""
    steps: int = 300
    """Training steps."""
    train_length: int = 2_000
    """Sequence length for training."""
    solver: SolverName = "deer"
    """Solver for training."""
    seed: int = 0
    """Random seed."""

    def __post_init__(self):
        self.positive_int("length", "hidden", "steps", "train_length")
        self.check_choices()
        self.check("seed", isinstance(self.seed, int), "an integer", self.seed)


@config_options(DemoConfig)
def demo(cfg: DemoConfig) -> None:
    """Run every solver on a GRU, then train a small model.

    The table times each solver against the sequential scan and names the one `Auto` picks;
    the training run shows a progress bar."""
    from rich.console import Console
    from rich.table import Table

    length, hidden, steps, train_length, seed, solver = (
        cfg.length, cfg.hidden, cfg.steps, cfg.train_length, cfg.seed, cfg.solver,
    )  # fmt: skip
    pt = _pt()
    console = Console()
    console.print(
        f"[bold]paratime {pt.__version__}[/] on {jax.default_backend()} "
        f"({jax.devices()[0].device_kind}), jax {jax.__version__}"
    )
    key = jax.random.key(seed)
    cell = pt.cells.GRU(3, hidden, key=key, dtype=jnp.float32)
    xs = jnp.asarray(demo_signal(length, seed)[:length])
    h0 = jnp.zeros(hidden, jnp.float32)

    table = Table(title=f"GRU, T={length}, N={hidden}, float32: every solver against Sequential")
    for col in ("solver", "compile s", "run ms", "iterations", "max |Δ| vs Sequential"):
        table.add_column(col, justify="right" if col != "solver" else "left")
    reference = None
    for name, (solver_name, settings) in TABLE.items():
        s = make_solver(solver_name, **settings)
        if isinstance(s, pt.Auto):  # the choice `unroll` makes for this cell and these sizes
            name = f"auto: {solver_label(s.select(cell, length, hidden, h0=h0, x=xs[0]))}"
        run = jax.jit(lambda c, h, x, s=s: pt.unroll(c, h, x, solver=s, throw=False))
        compile_s, run_s, sol = _time(lambda: run(cell, h0, xs))
        if reference is None:
            reference = sol.states
        deviation = float(jnp.max(jnp.abs(sol.states - reference)))
        ok = sol.result == pt.RESULTS.successful
        iters = str(int(sol.stats["num_steps"])) if bool(ok) else "failed"
        table.add_row(name, f"{compile_s:.2f}", f"{1e3 * run_s:.1f}", iters, f"{deviation:.1e}")
    console.print(table)
    console.print(EXPECT)

    console.print(
        f"\n[bold]Training[/] a GRU({hidden}) + linear readout to predict the next sample "
        f"(T={train_length}, {steps} Adam steps, solver={solver})"
    )
    data = jnp.asarray(demo_signal(train_length, seed + 1))
    inputs, targets = data[:-1], data[1:]
    model = Predictor(hidden, key=jax.random.fold_in(key, 1))
    train_solver = make_solver(solver)
    if isinstance(train_solver, pt.Auto):
        chosen = train_solver.select(cell, train_length, hidden, h0=h0, x=inputs[0])
        console.print(f"Auto chose {solver_label(chosen)} for training on {jax.default_backend()}")

    def loss_fn(model, key):
        return jnp.mean((model(inputs, train_solver) - targets) ** 2)

    initial = float(loss_fn(model, key))
    optimizer = optax.adam(optax.cosine_decay_schedule(1e-2, steps))
    model, history = pt.train.fit(
        loss_fn, model, optimizer, steps=steps, key=key, description="training", log_every=10
    )
    final = history[-1]["loss"]
    console.print(
        f"loss {initial:.4f} -> {final:.4f} in {history[-1]['time']:.1f} s "
        f"({1e3 * history[-1]['time'] / steps:.1f} ms/step, compile included)"
    )
