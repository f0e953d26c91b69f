"""Time the solvers on the user's own cell, state and inputs."""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PyTree

from ._grid import LABELS, SOLVERS, Group
from ._measure import build, compile_fn, deviation, time_call


def _label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    if name in SOLVERS and not name.endswith("+warm") and name not in ("cuDNN", "torch-CPU"):
        return name
    allowed = [*LABELS, *(n for n in SOLVERS if not n.endswith("+warm"))]
    raise ValueError(f"`solvers`: unknown solver {name!r}; expected some of {allowed}.")


def time_solvers(
    cell: Any,
    h0: PyTree[Array],
    xs: PyTree[Array],
    *,
    solvers: Sequence[str] = ("sequential", "deer", "quasi-deer", "auto"),
    workload: str = "forward",
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Time `paratime.unroll(cell, h0, xs, solver=...)` with each solver, side by side.

    Every solver is compiled first, then timed in `repeats` interleaved rounds (each round
    calls each solver once), so that they all see the same machine load.

    **Arguments:**

    - `cell`, `h0`, `xs`: as for `paratime.unroll`; with one more leading axis on `h0` and
        `xs`, a batch (timed under `jax.vmap`).
    - `solvers`: solver names (`"sequential"`, `"deer"`, `"quasi-deer"`, `"elk"`,
        `"quasi-elk"`, `"auto"`) or baselines (`"lax.scan"`, `"naive-DEER"`); the first is the
        reference of the deviations.
    - `workload`: `"forward"` (the states) or `"train"` (the loss `mean(states**2)` and its
        gradient with respect to the cell).
    - `repeats`: timed rounds after the compiling call.

    **Returns:**

    One dict per solver: `solver`, `median_s`, `min_s`, `compile_s`, `iterations` (most
    Newton iterations over the batch), `max_dev` and `rel_dev` (against the first solver),
    and `peak_bytes` where XLA reports it.

    **Example:**

    ```python
    cell = paratime.cells.GRU(4, 32, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (10_000, 4))
    for r in paratime.bench.time_solvers(cell, jnp.zeros(32), xs):
        print(r["solver"], r["median_s"], r["iterations"])
    ```
    """
    if workload not in ("forward", "train"):
        raise ValueError(f"`workload` must be 'forward' or 'train'; got {workload!r}.")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"`repeats` must be an integer >= 1; got {repeats!r}.")
    if not solvers:
        raise ValueError("`solvers` must name at least one solver.")
    labels = [_label(s) for s in solvers]
    x_leaf = jax.tree_util.tree_leaves(xs)[0]
    h_leaf = jax.tree_util.tree_leaves(h0)[0]
    batched = jnp.ndim(h_leaf) == 2
    batch = int(x_leaf.shape[0]) if batched else 1
    T = int(x_leaf.shape[1] if batched else x_leaf.shape[0])
    group = Group("user", int(h_leaf.shape[-1]), T, batch, workload)
    args = (cell, h0, xs, None)
    records: list[dict[str, Any]] = []
    calls = []
    ref = None
    for name, label in zip(solvers, labels):
        call, info = compile_fn(build(group, label), args)
        first, out = time_call(call)
        rec: dict[str, Any] = {"solver": name, "compile_s": info["compile_s"] + first}
        if "peak_bytes" in info:
            rec["peak_bytes"] = info["peak_bytes"]
        rec["iterations"] = int(np.max(np.asarray(out[1])))
        if ref is None:
            ref = out[0]
            rec["max_dev"], rec["rel_dev"] = 0.0, 0.0
        else:
            rec["max_dev"], rec["rel_dev"] = deviation(out[0], ref)
        records.append(rec)
        calls.append(call)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for i, call in enumerate(calls):
            times[i].append(time_call(call)[0])
    for rec, ts in zip(records, times):
        rec.update(median_s=float(np.median(ts)), min_s=float(min(ts)), times_s=ts)
    return records
