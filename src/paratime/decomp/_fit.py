"""Training loops for the decomposed problems, on top of `paratime.train.train`."""

import os
from typing import Any

import equinox as eqx
import jax
import optax
from jaxtyping import Array, Float

from .. import train as _train
from ._decomposition import DecomposedProblem
from ._model import RNN, sequence_loss
from ._shooting import ShootingProblem


@eqx.filter_jit
def _full_loss(problem, params):
    return problem.full_loss(params)


def fit_problem(
    problem: DecomposedProblem | ShootingProblem,
    model: RNN,
    *,
    steps: int,
    eval_every: int = 1,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = False,
    **train_kwargs: Any,
) -> tuple[Any, list[dict[str, Any]]]:
    """Run `steps` calls of `problem.step` with `paratime.train.train` (resumable, logged).

    Every `eval_every` steps (and at the first and last) the record also holds `loss`, the
    ordinary full-sequence loss of the current θ. For a `DecomposedProblem` one step is one
    outer iteration (`config.inner_steps` gradient steps and one exchange).

    **Arguments:**

    - `problem`: a `DecomposedProblem` or a `ShootingProblem`.
    - `model`: the initial `RNN`.
    - `steps`: the number of steps.
    - `eval_every`: how often to evaluate the full-sequence loss.
    - `out_dir`, `resume`, `progress`, `**train_kwargs`: passed to `paratime.train.train`.

    **Returns:**

    `(state, history)`; `problem.model(state)` is the trained `RNN`.

    **Raises:**

    `ValueError` if `eval_every < 1`.

    **Example:**

    ```python
    cfg = decomp.Decomposition(num_windows=8, overlap=8, mu=10.0, inner_steps=5)
    problem = decomp.DecomposedProblem(model, xs, ys, cfg, optax.adam(1e-2))
    state, history = decomp.fit_problem(problem, model, steps=80, out_dir="run")
    trained = problem.model(state)
    ```
    """
    if eval_every < 1:
        raise ValueError(f"`eval_every` must be at least 1; got {eval_every}.")

    def step_fn(state, i):
        state, metrics = problem.step(state)
        if i == 0 or (i + 1) % eval_every == 0 or i + 1 == steps:
            metrics = dict(metrics, loss=_full_loss(problem, state.params))
        return state, metrics

    return _train.train(
        step_fn,
        problem.init(model),
        steps=steps,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        **train_kwargs,
    )


def fit_bptt(
    model: RNN,
    xs: Float[Array, "B T D"],
    ys: Float[Array, "B T Dy"],
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    solver: Any = None,
    **fit_kwargs: Any,
) -> tuple[RNN, list[dict[str, Any]]]:
    """The baseline: ordinary full-sequence BPTT with `paratime.train.fit`.

    **Returns:**

    `(model, history)`; each record's `loss` is the full-sequence loss before that step.
    """

    def loss_fn(m, key):
        return sequence_loss(m, xs, ys, solver=solver)

    fit_kwargs.setdefault("progress", False)
    return _train.fit(loss_fn, model, optimizer, steps=steps, key=jax.random.key(0), **fit_kwargs)
