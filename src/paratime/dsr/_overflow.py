"""When a run's model falls short: the bounded model in its place, or more seeds.

An unbounded model (the shPLRNN, PLRNN, ALRNN) can learn a map that expands off the data,
where the forced training windows never go; its validation free runs then overflow at most
validations, and model selection keeps an early model (docs/dsr.md, rounds 8-10). With
`on_overflow = "bounded"` (the default) `paratime dsr train` then trains the clipped shPLRNN,
whose states stay bounded, from one seed after another until one scores below
`bounded_target` on validation (at most `bounded_restarts`), and the one with the best
validation score becomes the run's model: `bounded.json` in the run directory names it, and
`load_run`, `paratime dsr eval` and `generate` follow it.

A model that does not overflow can still fall short: on some Lorenz-63 seeds it learns a
spurious attractor beside the real one, reached from part of the state space, and no later
step leaves it (docs/dsr.md, round 14). When the selected model's mean validation
score is above `restart_target`, `paratime dsr train` trains the same model from up to
`restarts` more seeds, and the best of them all by that score becomes the run's model:
`restarts.json` names it (or the run itself).
"""

import json
import math
import os
from pathlib import Path
from typing import Any

from ._config import TrainConfig

SELECTED = "bounded.json"
"""The file in a run directory that names the bounded restart that replaced the run's model."""
RESTARTS = "restarts.json"
"""The file in a run directory that names the run's best seed (`restarts`)."""
SHARE = 0.5
"""The share of validations with a non-finite free run from which a model counts as escaping."""
ALPHA_MAX = 0.3
"""aGTF's bound on α for the bounded model (the Santa Fe laser: α ≈ 0.3, docs/dsr.md)."""
STEPS_FACTOR = 4
"""The bounded model's budget, in steps of the run it replaces. Patience usually ends it
within 5 000 steps; the longer budget keeps the decaying learning rate high for longer,
which it needs to leave a limit cycle (docs/dsr.md, round 11)."""
SEED_STRIDE = 1000
"""Restart j (of the bounded model, or of the run's own) uses seed `seed + SEED_STRIDE * j`."""
BOUNDED_MODEL = "clipped-shplrnn"


def overflow_count(history: list[dict[str, Any]]) -> tuple[int, int]:
    """`(overflowed, validations)`: how many of a run's validations had a free run that became
    non-finite (scored D_stsp = inf), and how many validations there were."""
    scores = [h["val_D_stsp"] for h in history if "val_D_stsp" in h]
    return sum(not math.isfinite(s) for s in scores), len(scores)


def escaped(cfg: TrainConfig, history: list[dict[str, Any]]) -> bool:
    """Whether `cfg.on_overflow` asks for the bounded model in place of this run's: an
    unbounded model whose free runs overflowed at `SHARE` of its validations or more."""
    bad, total = overflow_count(history)
    return (
        cfg.on_overflow == "bounded"
        and cfg.model != BOUNDED_MODEL
        and total > 0
        and bad >= SHARE * total
    )


def bounded_config(cfg: TrainConfig, restart: int) -> TrainConfig:
    """The config of restart `restart` of the bounded model: the clipped shPLRNN with aGTF
    (α ≤ `ALPHA_MAX`), selection on D_stsp and D_H and `STEPS_FACTOR` times the steps, the
    rest of `cfg` unchanged."""
    return cfg.replace(
        model=BOUNDED_MODEL,
        steps=STEPS_FACTOR * cfg.steps,
        gtf="adaptive",
        alpha0=min(cfg.alpha0, ALPHA_MAX),
        alpha_max=min(cfg.alpha_max, ALPHA_MAX),
        select_on="both",
        seed=cfg.seed + SEED_STRIDE * restart,
    )


def restart_config(cfg: TrainConfig, restart: int) -> TrainConfig:
    """The config of restart `restart` (from 1) of the run's own model: `cfg` with seed
    `seed + SEED_STRIDE * restart`."""
    return cfg.replace(seed=cfg.seed + SEED_STRIDE * restart)


def selected_run(run: str | os.PathLike) -> Path:
    """The directory holding the model of run `run`: `run` itself, or the restart that
    `run/bounded.json` or `run/restarts.json` names (`null`: the run itself).

    **Raises:**

    `ValueError` if the file is damaged or names a restart that is not there.
    """
    run = Path(run)
    record = next((run / f for f in (SELECTED, RESTARTS) if (run / f).is_file()), None)
    if record is None:
        return run
    try:
        name = json.loads(record.read_text())["selected"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"{str(record)!r} is damaged: it names no selected restart.") from None
    if name is None and record.name == RESTARTS:
        return run
    chosen = run / str(name)
    if Path(str(name)).name != name or not chosen.is_dir():
        raise ValueError(f"{str(record)!r} names {name!r}, which is not a restart of the run.")
    return chosen
