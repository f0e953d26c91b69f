"""Run configurations: frozen dataclasses validated on construction, stored as TOML.

An application's config (e.g. `paratime.dsr.TrainConfig`) subclasses `AbstractConfig`; a bad
field raises `ConfigError` (a `ValueError`) naming the field. Command lines read a config
from `--config run.toml`, let flags override it, store the resolved config in the run
directory, and compare it field by field on `--resume`.
"""

import dataclasses
import json
import math
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar, get_args

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


@dataclasses.dataclass(frozen=True)
class AbstractConfig:
    """Base of the application configs: flat fields of bool, int, float, str or `None`.

    Subclasses are frozen dataclasses and check their fields in `__post_init__` with
    `self.check(...)`; `None` means "not set" (e.g. "the data's dimension") and is not
    written to TOML.
    """

    # Fields that may differ between a run and its `--resume` (e.g. more steps).
    resumable: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def check(field: str, ok: bool, allowed: str, value: Any) -> None:
        """Raise `ConfigError` naming `field` unless `ok`."""
        if not ok:
            raise ConfigError(field, f"must be {allowed}; got {value!r}.")

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

    def check_types(self) -> None:
        """Every field must hold its declared type: `bool`, `int` (not a bool), `float` (an int
        is accepted), `str`, or one of these `| None`."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kinds = get_args(f.type) if isinstance(f.type, types.UnionType) else (f.type,)
            if value is None and type(None) in kinds:
                continue
            ok = any(
                isinstance(value, bool)
                if kind is bool
                else isinstance(value, int | float) and not isinstance(value, bool)
                if kind is float
                else isinstance(value, kind) and (kind is not int or not isinstance(value, bool))
                for kind in kinds
                if isinstance(kind, type) and kind is not type(None)
            )
            names = " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
            self.check(f.name, ok, f"of type {names}", value)

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
        return tuple(f.name for f in dataclasses.fields(cls))

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
