"""What every `paratime` command shares: one error style, flag-named errors, data loading.

Every bad input ends as one line on stderr, `Error: ...` naming the flag, with exit code 2
and no traceback: typer's own checks (types, ranges, choices, missing options), the
`BadParameter`s the commands raise, a missing optional dependency, and the `ValueError`,
`TypeError` and `FileNotFoundError` of the library functions the commands call. A run that
fails on good input (a diverging free run, a Newton solve that fails) is one line with exit
code 1. Anything else is a bug and keeps its traceback.
"""

import contextlib
import dataclasses
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from .._engine import NewtonError
from .._extras import MissingExtraError

# typer >= 0.24 vendors click; both spell the base class of usage errors the same way.
# (Any: which of the two classes it is is known only at run time.)
_ClickException: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_USER_ERRORS = (
    ValueError,
    TypeError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    MissingExtraError,
)
# Failures of a run that are not bad input (a generated trajectory that went NaN, a Newton
# solve that did not converge): one line too, with exit code 1.
_RUN_ERRORS = (FloatingPointError, NewtonError, OSError)


def _runtime_message(error: BaseException) -> str | None:
    """The message of an `eqx.error_if` check (e.g. a failed Newton solve under `jit`), which
    JAX reports inside a long `JaxRuntimeError`; `None` if there is none."""
    found = re.search(r"(?:RuntimeError|NewtonError): (.+)", str(error))
    return found.group(1) if found and type(error).__name__ == "JaxRuntimeError" else None


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
        except _RUN_ERRORS as e:
            _fail(str(e), 1)
        except RuntimeError as e:
            message = _runtime_message(e)
            if message is None:
                raise
            _fail(message, 1)
        except (typer.Abort, KeyboardInterrupt):
            typer.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


def new_app(**kwargs: Any) -> typer.Typer:
    """A `typer.Typer` with the shared error handling (see `CliGroup`)."""
    kwargs.setdefault("no_args_is_help", True)
    kwargs.setdefault("add_completion", False)
    kwargs.setdefault("rich_markup_mode", None)
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


def data_help(what: str, *extra: str) -> str:
    """The help of a `--data` option: `what`, then every dataset name it takes (those of
    `paratime.data.DATASETS` and the application's `extra` ones) or a file path."""
    from ..data import DATASETS

    names = ", ".join(sorted({*DATASETS, *extra}))
    return f"{what}: a dataset name ({names}) or the path of a .npy/.csv/.txt file."


def request_cpu_devices(count: int) -> None:
    """Ask JAX for `count` CPU devices; possible only before JAX starts its backends (a no-op
    after that, e.g. under pytest: what is there is kept)."""
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backend already initialised
        pass


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


def option_name(field: str) -> str:
    """The flag of a config field: `seq_len` -> `--seq-len`."""
    return "--" + field.replace("_", "-")


def resolve_config(
    ctx: typer.Context,
    cls: type,
    config: Any,
    values: dict[str, Any],
    *,
    base: dict[str, Any] | None = None,
) -> Any:
    """The config `cls(...)` from the defaults, then `base` (e.g. a recipe's values), then the
    TOML file `config` (or `None`), then the flags given on the command line, in that order
    of precedence. A missing required field or a bad one is reported as its flag (`latent`
    -> `--latent`)."""
    from .._config import ConfigError

    merged: dict[str, Any] = dict(base or {})
    if config is not None:
        with flag("--config"):
            merged.update(cls.read_toml(config))
    for name, value in values.items():
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")
        if given or name not in merged:
            merged[name] = value
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and merged.get(f.name) is None:
            raise bad(
                option_name(f.name), "is required (on the command line or in the --config file)."
            )
    try:
        return cls(**merged)
    except ConfigError as e:
        raise bad(option_name(e.field), str(e)) from e


def check_out_dir(path: Path, name: str = "--out") -> None:
    """`path` must be a directory or not exist yet (it is created when the run starts)."""
    if path.exists() and not path.is_dir():
        raise bad(name, f"{str(path)!r} is a file; give a directory for the run.")


def store_config(run_dir: Path, config: Any, *, resume: bool, name: str = "config.toml") -> None:
    """Write `config` to `run_dir/name` atomically. With `resume`, the run must exist and its
    stored config must equal `config` field by field (except the resumable fields)."""
    from ..train._atomic import atomic_write_text

    path = run_dir / name
    if resume:
        if not path.is_file():
            raise bad(
                "--resume",
                f"{str(run_dir)!r} holds no run to resume (no {name}); leave out --resume to "
                "start a new run.",
            )
        with flag("--resume"):
            stored = type(config).from_toml(path)
        changed = stored.differences(config)
        if changed:
            raise bad(
                "--resume",
                f"the run in {str(run_dir)!r} has different options: {'; '.join(changed)}.",
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, config.to_toml())
