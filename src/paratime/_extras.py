"""Optional dependencies: import them, or say in one line which extra to install and why."""

import importlib
from types import ModuleType

# module -> (the pip distribution, the paratime extra that installs it)
_EXTRAS: dict[str, tuple[str, str]] = {
    "matplotlib": ("matplotlib", "plot"),
    "typer": ("typer", "cli"),
    "rich": ("rich", "cli"),
    "sklearn": ("scikit-learn", "data"),
    "statsmodels": ("statsmodels", "data"),
    "reservoirpy": ("reservoirpy", "data"),
    "scipy": ("scipy", "data"),
    "lineax": ("lineax", "lstsq"),
    "tomli": ("tomli", ""),  # a core dependency on Python 3.10
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing_extra_message(module: str, why: str) -> str:
    """`"<why> needs <package>: pip install 'paratime[<extra>]'"`, in one line."""
    package, extra = _EXTRAS[module.split(".")[0]]
    command = f"pip install 'paratime[{extra}]'" if extra else f"pip install {package}"
    return f"{why} needs {package}, which is not installed: {command}."


def require(module: str, why: str) -> ModuleType:
    """Import the optional dependency `module` (e.g. `"sklearn.datasets"`).

    **Arguments:**

    - `module`: a module of one of the extras (matplotlib, typer, rich, sklearn, statsmodels,
        reservoirpy, scipy, lineax).
    - `why`: what needs it, e.g. `"the digits dataset"`; it starts the error message.

    **Returns:**

    The module.

    **Raises:**

    `MissingExtraError` (an `ImportError`) saying which extra to install, if it is absent.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        if e.name is not None and e.name.split(".")[0] != top:
            raise  # the package is there but one of its own dependencies is broken
        raise MissingExtraError(missing_extra_message(module, why)) from None
