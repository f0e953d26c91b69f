"""The benchmark grid: which cells, sizes, workloads and solvers are measured."""

import dataclasses
import itertools
from collections.abc import Callable, Sequence

CELLS = ("GRU", "LSTM", "Elman")
WORKLOADS = ("forward", "train")
FULL_T = (1_000, 10_000, 100_000, 1_000_000)
FULL_N = (4, 16, 64, 256)
FULL_BATCH = (1, 16)
INPUT_SIZE = 4
CHUNK = 1_000  # chunk length of "DEER-chunked": memory ∝ CHUNK·N² instead of T·N²
DENSE_MAX_N = 64  # full-Jacobian solvers (DEER, ELK, straightforward DEER) are skipped above

# name -> (factory of the paratime solver or None for a baseline, uses full Jacobians)
SOLVERS: dict[str, tuple[Callable | None, bool]] = {}


def _register() -> None:
    import paratime

    SOLVERS.update(
        {
            "Sequential": (paratime.Sequential, False),
            "DEER": (paratime.DEER, True),
            "QuasiDEER": (paratime.QuasiDEER, False),
            "DEER-chunked": (
                lambda: paratime.DEER(recurrence=paratime.recurrences.Chunked(CHUNK)),
                True,
            ),
            "ELK": (paratime.ELK, True),
            "QuasiELK": (lambda: paratime.ELK(diagonal=True), False),
            "Auto": (paratime.Auto, False),
            "DEER+warm": (paratime.DEER, True),
            "QuasiDEER+warm": (paratime.QuasiDEER, False),
            "lax.scan": (None, False),
            "naive-DEER": (None, True),
            "cuDNN": (None, False),
            "torch-CPU": (None, False),
        }
    )


_register()
# Command-line solver names (`paratime.SolverName`) -> the labels of the results files.
LABELS = {
    "sequential": "Sequential",
    "deer": "DEER",
    "quasi-deer": "QuasiDEER",
    "elk": "ELK",
    "quasi-elk": "QuasiELK",
    "auto": "Auto",
}
BASELINES = ("lax.scan", "naive-DEER", "cuDNN", "torch-CPU")
TORCH_DEVICES = {"cuDNN": "cuda", "torch-CPU": "cpu"}  # PyTorch baselines: where they run
DEFAULT_SOLVERS = (
    "Sequential",
    "DEER",
    "QuasiDEER",
    "DEER-chunked",
    "ELK",
    "QuasiELK",
    "Auto",
    "DEER+warm",
    "QuasiDEER+warm",
    "lax.scan",
    "naive-DEER",
    "cuDNN",
    "torch-CPU",
)


@dataclasses.dataclass(frozen=True)
class Group:
    """One grid point without the solver: every solver of a group is timed side by side."""

    cell: str
    N: int
    T: int
    batch: int
    workload: str

    def key(self) -> tuple:
        return (self.cell, self.N, self.T, self.batch, self.workload)


def solvers_for(group: Group, solvers: Sequence[str], *, torch: str | None) -> list[str]:
    """The solvers measured on `group`: dense ones only up to N = 64; PyTorch's GRU and LSTM
    only where PyTorch runs (`torch`: `"cuda"` for cuDNN, `"cpu"` for its CPU kernels, or
    `None`); the straightforward DEER only forward (it has no gradient: `while_loop`); warm
    starts (from the states of the previous training step) only when training."""
    out = []
    for name in solvers:
        if name not in SOLVERS:
            raise ValueError(f"unknown solver {name!r}; expected one of {sorted(SOLVERS)}.")
        dense = SOLVERS[name][1]
        if dense and group.N > DENSE_MAX_N:
            continue
        if name in TORCH_DEVICES and (
            TORCH_DEVICES[name] != torch or group.cell not in ("GRU", "LSTM")
        ):
            continue
        if name == "naive-DEER" and group.workload != "forward":
            continue
        if name.endswith("+warm") and group.workload != "train":
            continue
        out.append(name)
    if "Sequential" in out:  # the reference goes first: deviations are measured against it
        out.remove("Sequential")
        out.insert(0, "Sequential")
    return out


def grid(
    *,
    cells: Sequence[str] = CELLS,
    Ts: Sequence[int] = FULL_T,
    Ns: Sequence[int] = FULL_N,
    batches: Sequence[int] = FULL_BATCH,
    workloads: Sequence[str] = WORKLOADS,
) -> list[Group]:
    """Every combination, ordered by increasing cost (T, then N), so a time budget cuts the
    most expensive points last."""
    for name, values, allowed in (("cells", cells, CELLS), ("workloads", workloads, WORKLOADS)):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"`{name}` must be among {allowed}; got {bad}.")
    for name, values in (("Ts", Ts), ("Ns", Ns), ("batches", batches)):
        if not values or any(int(v) < 1 for v in values):
            raise ValueError(f"`{name}` must be positive integers; got {list(values)}.")
    groups = [
        Group(c, int(n), int(t), int(b), w)
        for t, n, b, c, w in itertools.product(
            sorted(Ts), sorted(Ns), sorted(batches), cells, workloads
        )
    ]
    return groups


def quick_grid() -> list[Group]:
    """A subset that runs in well under 2 minutes on a 2-core CPU (`paratime bench --quick`)."""
    return grid(cells=("GRU",), Ts=(10_000,), Ns=(16,), batches=(1,))
