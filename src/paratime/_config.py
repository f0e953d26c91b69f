"""Run configurations: frozen dataclasses validated on construction, stored as TOML.

An application's config (e.g. `paratime.dsr.TrainConfig`) subclasses `AbstractConfig`; a bad
field raises `ConfigError` (a `ValueError`) naming the field. The config is the one
declaration of an application's settings: its command line has one flag per field (type,
default, choices of a `Literal` type, and the field's docstring as help; see
`paratime.cli._options`), reads a config from `--config run.toml` with flags on top, stores
the resolved config in the run directory, and compares it field by field on `--resume`.
"""

import ast
import dataclasses
import functools
import inspect
import json
import math
import os
import sys
import textwrap
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

_C = TypeVar("_C", bound="AbstractConfig")


class ConfigError(ValueError):
    """A config field has a value that is not allowed; `field` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"`{field}` {message}")


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        from ._extras import require

        tomllib = require("tomli", "Reading TOML on Python 3.10")
    return tomllib.loads(text)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's string escapes are TOML's too
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to TOML.")


def _is_union(kind: Any) -> bool:
    return isinstance(kind, types.UnionType) or get_origin(kind) is typing.Union


@functools.cache
def _field_docstrings(cls: type) -> dict[str, str]:
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):  # no source (e.g. built in a REPL)
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


@dataclasses.dataclass(frozen=True)
class AbstractConfig:
    """Base of the application configs: flat fields of bool, int, float, str, a `Literal` of
    strings, or one of these `| None`.

    Subclasses are frozen dataclasses and check their fields in `__post_init__` with
    `self.check(...)` (and `self.check_choices()` for the `Literal` fields); `None` means "not
    set" (e.g. "the data's dimension") and is not written to TOML. Each field carries a
    docstring (a string on the line after it): it is the help text of its flag.
    """

    # Fields that may differ between a run and its `--resume` (e.g. more steps).
    resumable: ClassVar[tuple[str, ...]] = ()
    # Fields the program fills in (e.g. the data's dimension): no flag.
    internal: ClassVar[tuple[str, ...]] = ()
    # Dataset names a `data` field takes besides `paratime.data.DATASETS` (its flag lists all).
    extra_datasets: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def check(field: str, ok: bool, allowed: str, value: Any) -> None:
        """Raise `ConfigError` naming `field` unless `ok`."""
        if not ok:
            raise ConfigError(field, f"must be {allowed}; got {value!r}.")

    def boolean(self, *fields: str) -> None:
        """Each of `fields` must be `True` or `False`."""
        for name in fields:
            v = getattr(self, name)
            self.check(name, isinstance(v, bool), "true or false", v)

    def positive_int(self, *fields: str, minimum: int = 1) -> None:
        """Each of `fields` must be an int >= `minimum` (not a bool)."""
        for name in fields:
            v = getattr(self, name)
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= minimum
            self.check(name, ok, f"an integer >= {minimum}", v)

    def positive_float(self, *fields: str) -> None:
        """Each of `fields` must be a finite number > 0."""
        for name in fields:
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf
            self.check(name, ok, "a finite number > 0", v)

    def nonnegative_float(self, *fields: str) -> None:
        """Each of `fields` must be a finite number >= 0."""
        for name in fields:
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < math.inf
            self.check(name, ok, "a finite number >= 0", v)

    def check_types(self) -> None:
        """Every field must hold its declared type: `bool`, `int` (not a bool), `float` (an int
        is accepted), `str` (or a `Literal` of strings), or one of these `| None`."""
        for name, kind in self.field_types().items():
            value = getattr(self, name)
            kinds = get_args(kind) if _is_union(kind) else (kind,)
            if value is None and type(None) in kinds:
                continue
            kinds = tuple(
                str if get_origin(k) is Literal else k for k in kinds if k is not type(None)
            )
            ok = any(
                isinstance(value, bool)
                if k is bool
                else isinstance(value, int | float) and not isinstance(value, bool)
                if k is float
                else isinstance(value, k) and (k is not int or not isinstance(value, bool))
                for k in kinds
                if isinstance(k, type)
            )
            names = " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
            self.check(name, ok, f"of type {names}", value)

    def check_choices(self) -> None:
        """Each field of a `Literal` type (or one `| None`) must hold one of its values."""
        for name, choices in self.field_choices().items():
            value = getattr(self, name)
            if value is not None or not self.field_optional(name):
                self.one_of(name, choices)

    def one_of(self, field: str, allowed: Sequence[str]) -> None:
        """`field` must be one of `allowed`."""
        v = getattr(self, field)
        self.check(field, v in allowed, f"one of {', '.join(allowed)}", v)

    def replace(self: _C, **changes: Any) -> _C:
        """A copy with some fields changed (validated again); `None` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def save(self, path: str | os.PathLike) -> None:
        """Write the config as TOML to `path`, atomically."""
        from .train._atomic import atomic_write_text

        atomic_write_text(path, self.to_toml())

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set (not `None`)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def to_toml(self) -> str:
        """The config as TOML text, one `name = value` line per set field."""
        return "".join(f"{k} = {_toml_value(v)}\n" for k, v in self.to_dict().items())

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the fields, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def field_types(cls) -> dict[str, Any]:
        """The type of each field, resolved (`int | None`, `Literal["a", "b"]`, ...)."""
        hints = typing.get_type_hints(cls)
        return {name: hints[name] for name in cls.field_names()}

    @classmethod
    def field_optional(cls, name: str) -> bool:
        """Whether the field `name` accepts `None`."""
        kind = cls.field_types()[name]
        return type(None) in get_args(kind) if _is_union(kind) else kind is type(None)

    @classmethod
    def field_choices(cls) -> dict[str, tuple[str, ...]]:
        """The allowed values of each field of a `Literal` type (or one `| None`)."""
        out = {}
        for name, kind in cls.field_types().items():
            kinds = get_args(kind) if _is_union(kind) else (kind,)
            for k in kinds:
                if get_origin(k) is Literal:
                    out[name] = tuple(get_args(k))
        return out

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """The docstring of each field (the string on the line after it in the class body),
        whitespace made single spaces; fields without one are left out."""
        return _field_docstrings(cls)

    @classmethod
    def read_toml(cls, path: str | os.PathLike) -> dict[str, Any]:
        """The fields stored in the TOML file `path` (not yet validated).

        **Raises:**

        `FileNotFoundError` if it is absent, `ValueError` if it is not TOML or names a field
        this config does not have.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} not found.")
        try:
            values = _toml_loads(path.read_text())
        except ValueError as e:  # tomllib.TOMLDecodeError
            raise ValueError(f"{str(path)!r} is not valid TOML: {e}.") from None
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(
                f"{str(path)!r} has unknown fields {unknown}; a {cls.__name__} has "
                f"{', '.join(cls.field_names())}."
            )
        return values

    @classmethod
    def from_toml(cls: type[_C], path: str | os.PathLike) -> _C:
        """The config stored in the TOML file `path`, validated."""
        return cls(**cls.read_toml(path))

    def differences(self, other: "AbstractConfig") -> list[str]:
        """`"field: stored -> now"` for every field (outside `resumable`) that differs."""
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return [
            f"{k}: {a[k]!r} -> {b[k]!r}"
            for k in self.field_names()
            if k not in self.resumable and a[k] != b[k]
        ]
