"""`paratime.AbstractConfig`: type checks, replace, save and load, differences."""

import dataclasses
from typing import ClassVar

import pytest

import paratime


@dataclasses.dataclass(frozen=True)
class Run(paratime.AbstractConfig):
    name: str = "a"
    size: int = 3
    rate: float = 0.5
    flag: bool = False
    width: int | None = None

    resumable: ClassVar[tuple[str, ...]] = ("rate",)

    def __post_init__(self):
        self.check_types()


@pytest.mark.parametrize(
    "field, value",
    [("name", 1), ("size", 1.5), ("size", True), ("rate", "x"), ("flag", 1), ("width", 2.0)],
)
def test_check_types_names_the_field(field, value):
    with pytest.raises(paratime.ConfigError, match=f"`{field}`") as info:
        Run(**{field: value})
    assert info.value.field == field


def test_check_types_accepts_what_is_declared():
    Run(rate=1, width=None)  # an int is a float; None where `| None`
    Run(width=4, flag=True)


def test_replace_save_load_differences(tmp_path):
    run = Run(name="b", width=2)
    assert run.replace(size=None) == run  # None leaves a field as it is
    changed = run.replace(size=5, rate=0.1)
    changed.save(tmp_path / "run.toml")
    assert Run.from_toml(tmp_path / "run.toml") == changed
    assert run.differences(changed) == ["size: 3 -> 5"]  # `rate` is resumable
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        Run.from_toml(tmp_path / "missing.toml")
    with pytest.raises(paratime.ConfigError, match="size"):
        run.replace(size="big")
