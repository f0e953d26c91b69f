"""The `paratime` command line: demo, bench, dsr, elm, pararealnet.

Every command reports bad input as one line, `Error: ...` naming the flag, with exit code 2
(see `paratime.cli._common`).
"""

import importlib
import sys

from .._extras import MissingExtraError, require

# (`app` is built on first use, by `__getattr__` below.)
__all__ = ["app", "main"]  # pyright: ignore[reportUnsupportedDunderAll]

try:
    require("typer", "The paratime command line")
    require("rich", "The paratime command line")
except MissingExtraError as _missing:
    _MISSING: MissingExtraError | None = _missing
else:
    _MISSING = None

# Each application owns its sub-command group, as a `typer.Typer` named `app`.
_GROUPS = {
    "bench": ("paratime.bench._cli", "Time the solvers on your cells and sizes."),
    "dsr": ("paratime.dsr._cli", "Dynamical-systems reconstruction with GTF (PLRNN family)."),
    "elm": ("paratime.elm._cli", "Non-iterative ELM training of six RNN architectures."),
    "pararealnet": ("paratime.pararealnet._cli", "Parareal neural networks (layers as time)."),
    "lm": ("paratime.lm._cli", "Byte-level language models on the Python standard library."),
}

_APP = None


def _build():
    """The `paratime` typer app, built on first use (the groups import their applications)."""
    global _APP
    if _APP is None:
        if _MISSING is not None:
            raise _MISSING
        from typing import Annotated

        import typer

        from .. import __version__
        from ._common import new_app
        from ._demo import demo

        def show_version(value: bool) -> None:
            if value:
                typer.echo(f"paratime {__version__}")
                raise typer.Exit()

        app = new_app(help="Train and evaluate recurrent networks in parallel over time.")

        @app.callback()
        def root(
            version: Annotated[
                bool,
                typer.Option(
                    "--version",
                    callback=show_version,
                    is_eager=True,
                    help="Print the version and exit.",
                ),
            ] = False,
        ) -> None:
            """Train and evaluate recurrent networks in parallel over time."""

        app.command()(demo)
        for name, (module, help) in _GROUPS.items():
            app.add_typer(importlib.import_module(module).app, name=name, help=help)
        _APP = app
    return _APP


def __getattr__(name: str):
    if name == "app":
        return _build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the `paratime` script."""
    if _MISSING is not None:
        print(f"Error: {_MISSING}", file=sys.stderr)
        sys.exit(2)
    _build()()
