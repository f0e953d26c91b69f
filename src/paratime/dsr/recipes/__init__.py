"""Named training recipes shipped with paratime: the GTF papers' settings as TOML files.

`paratime dsr train --recipe gtf-lorenz63 --out DIR` trains with one of them; flags and a
`--config` file override its fields. Each file's comments give the source of every setting.
"""

import importlib.resources
from typing import Any

from .._config import TrainConfig


def recipe_names() -> list[str]:
    """The names of the shipped recipes (the TOML files of this package, without `.toml`)."""
    files = importlib.resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def recipe_values(name: str) -> dict[str, Any]:
    """The fields a recipe sets (not yet validated), by name.

    **Arguments:**

    - `name`: e.g. `"gtf-lorenz63"` (see `recipe_names()`).

    **Returns:**

    A dict of `paratime.dsr.TrainConfig` fields.

    **Raises:**

    `ValueError` naming the known recipes if there is none of that name.
    """
    names = recipe_names()
    if name not in names:
        raise ValueError(f"no recipe named {name!r}; the recipes are {', '.join(names)}.")
    path = importlib.resources.files(__name__) / f"{name}.toml"
    with importlib.resources.as_file(path) as p:
        return TrainConfig.read_toml(p)


def recipe(name: str, **changes: Any) -> TrainConfig:
    """A recipe as a validated `TrainConfig`, with `changes` applied (e.g. `data=...`).

    **Raises:**

    `ValueError` for an unknown name; `paratime.ConfigError` for a bad field.
    """
    return TrainConfig(**{**recipe_values(name), **changes})
