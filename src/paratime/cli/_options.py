"""Command-line options derived from a config: one flag per field, declared nowhere else.

`@config_options(TrainConfig)` turns a command `train(cfg: TrainConfig, out: ...)` into a typer
command with the command's own options (`--out`, `--resume`, ...), `--config FILE.toml` and one
option per field of `TrainConfig` (`seq_len` -> `--seq-len`): its type (`int | None`, `bool` as
`--x/--no-x`, a `Literal` as a choice), its default and, as help, the field's docstring. The
command receives the resolved config: the defaults, then the TOML file, then the flags given
(`resolve_config`), and a bad field is reported as its flag. Adding a field to the config is
the only step that adds a flag.
"""

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer

from .._config import AbstractConfig
from ._common import data_help, resolve_config

_F = TypeVar("_F", bound=Callable[..., Any])
_KEYWORD = inspect.Parameter.KEYWORD_ONLY
CONFIG_HELP = "A TOML file of these settings; flags given here override it."


def field_parameters(cls: type[AbstractConfig]) -> list[inspect.Parameter]:
    """One keyword parameter per field of `cls` (except `cls.internal`), annotated with its
    `typer.Option`: the field's type and default (`None` for a field without one, which is
    then required on the command line or in the file) and its docstring as help."""
    types, docs = cls.field_types(), cls.field_help()
    out = []
    # The class's own fields first (e.g. the data and the model), then those it inherits.
    own = cls.__dict__.get("__annotations__", {})
    for f in sorted(dataclasses.fields(cls), key=lambda f: f.name not in own):
        if f.name in cls.internal:
            continue
        kind = types[f.name]
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:  # required: given on the command line or in the --config file
            default, kind = None, kind | None
        help = docs.get(f.name, "")
        if f.name == "data":  # every dataset name it takes, so `--help` lists them
            help = data_help(help.split(":")[0].rstrip("."), *cls.extra_datasets)
        option = typer.Option(help=help, show_default=default is not None)
        out.append(inspect.Parameter(f.name, _KEYWORD, default=default,
                                     annotation=Annotated[kind, option]))  # fmt: skip
    return out


def config_options(
    cls: type[AbstractConfig],
    *,
    fallback: Callable[..., Path | None] | None = None,
    base: Callable[..., dict[str, Any]] | None = None,
) -> Callable[[_F], _F]:
    """A decorator for a typer command `fn(cfg, ...)`: it gets `--config` and one option per
    field of `cls`, and is called with `cfg`, the resolved `cls` (and `ctx` if it asks for it).

    **Arguments:**

    - `cls`: the config class, a subclass of `paratime._config.AbstractConfig`.
    - `fallback`: called with the command's own options when `--config` is not given; the
        TOML file it returns (or `None`) is read instead (e.g. the stored config of a run that
        is resumed).
    - `base`: called with the command's own options; the values it returns lie under the
        `--config` file and the flags (e.g. a shipped recipe named by `--recipe`).

    **Returns:**

    The decorator.
    """

    def decorate(fn: _F) -> _F:
        own = [
            p.replace(kind=_KEYWORD)
            for p in inspect.signature(fn).parameters.values()
            if p.name not in ("cfg", "ctx")
        ]
        fields = field_parameters(cls)
        clash = ({p.name for p in own} | {"config"}) & {p.name for p in fields}
        if clash:
            raise TypeError(f"{fn.__name__}: options {sorted(clash)} are also config fields.")
        names = [p.name for p in fields]
        wants_ctx = "ctx" in inspect.signature(fn).parameters

        def command(ctx: typer.Context, **kwargs: Any) -> Any:
            file = kwargs.pop("config")
            values = {name: kwargs.pop(name) for name in names}
            if file is None and fallback is not None:
                file = fallback(**kwargs)
            below = {} if base is None else base(**kwargs)
            cfg = resolve_config(ctx, cls, file, values, base=below)
            return fn(cfg=cfg, **kwargs, **({"ctx": ctx} if wants_ctx else {}))

        config = inspect.Parameter(
            "config", _KEYWORD, default=None,
            annotation=Annotated[Path | None, typer.Option(help=CONFIG_HELP)],
        )  # fmt: skip
        context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=typer.Context)  # fmt: skip
        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(command, name, getattr(fn, name))
        # typer builds the command line from this signature
        required = [p for p in own if p.default is inspect.Parameter.empty]
        optional = [p for p in own if p.default is not inspect.Parameter.empty]
        params = [context, *required, config, *fields, *optional]
        setattr(command, "__signature__", inspect.Signature(params))
        return cast(_F, command)

    return decorate
