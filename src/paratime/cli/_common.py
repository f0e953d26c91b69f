"""What every `paratime` command shares: one error style, flag-named errors, data loading.

Every bad input ends as one line on stderr, `Error: ...` naming the flag, with exit code 2
and no traceback: typer's own checks (types, ranges, choices, missing options), the
`BadParameter`s the commands raise, a missing optional dependency, and the `ValueError`,
`TypeError` and `FileNotFoundError` of the library functions the commands call.
"""

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup

from .._extras import MissingExtraError

# typer >= 0.24 vendors click; both spell the base class of usage errors the same way.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, MissingExtraError)


def one_line(message: str) -> str:
    """`message` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(message).split())


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"Error: {one_line(message)}", err=True)
    sys.exit(code)


class CliGroup(TyperGroup):
    """A typer group whose errors are one line, `Error: ...`, with exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except _ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except _USER_ERRORS as e:
            _fail(str(e))
        except (typer.Abort, KeyboardInterrupt):
            typer.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


def new_app(**kwargs: Any) -> typer.Typer:
    """A `typer.Typer` with the shared error handling (see `CliGroup`)."""
    kwargs.setdefault("no_args_is_help", True)
    kwargs.setdefault("add_completion", False)
    return typer.Typer(cls=CliGroup, **kwargs)


def bad(flag: str, message: str) -> typer.BadParameter:
    """A usage error about `flag` (e.g. `"--data"`); raise it."""
    return typer.BadParameter(one_line(message), param_hint=f"'{flag}'")


@contextlib.contextmanager
def flag(name: str) -> Iterator[None]:
    """Report a `ValueError`/`TypeError`/`FileNotFoundError` of the block as a bad `name`."""
    try:
        yield
    except (ValueError, TypeError, FileNotFoundError, OSError) as e:
        raise bad(name, str(e)) from e


def set_x64(enable: bool) -> None:
    """Compute in float64 (`True`) or float32."""
    import jax

    jax.config.update("jax_enable_x64", enable)


def load_data(source: str, *, name: str = "--data", min_length: int | None = None):
    """A `(T, d)` float32 series from a path or a dataset name, checked (finite, long enough);
    errors name the flag `name`."""
    from ..data import check_series, load_series

    with flag(name):
        return check_series(load_series(source), name=str(source), min_length=min_length)


def positive(value: float | None) -> float | None:
    """An option callback: the number must be > 0 (and not NaN)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be a number > 0; got {value}.")
    return value


def fraction(value: float) -> float:
    """An option callback: the number must lie strictly between 0 and 1."""
    if not 0 < value < 1:
        raise typer.BadParameter(f"must lie strictly between 0 and 1; got {value}.")
    return value
