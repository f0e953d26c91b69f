"""Command-line options derived from a config dataclass: one flag per field (type, default,
`Literal` choices, the field's docstring as help), `--config` underneath the flags, and errors
that name the flag."""

import dataclasses
from typing import Annotated, ClassVar, Literal

import pytest
import typer
from typer.testing import CliRunner

from paratime._config import AbstractConfig
from paratime.cli._common import new_app
from paratime.cli._options import config_options

runner = CliRunner()


@dataclasses.dataclass(frozen=True)
class RunConfig(AbstractConfig):
    data: str
    """Where the data are."""
    hidden_size: int = 8
    """State size."""
    rate: float | None = None
    """Learning rate (default: chosen)."""
    kind: Literal["fast", "slow"] = "fast"
    """How to run."""
    verbose: bool = True
    """Say more."""
    width: int | None = None
    """Filled in by the program."""

    internal: ClassVar[tuple[str, ...]] = ("width",)

    def __post_init__(self):
        self.positive_int("hidden_size")
        self.check_choices()


seen: list[tuple[RunConfig, str]] = []
app = new_app()


@app.command()
@config_options(RunConfig)
def run(cfg: RunConfig, name: Annotated[str, typer.Option(help="A name.")] = "x") -> None:
    """Run it."""
    seen.append((cfg, name))


@app.command()
def other() -> None:
    """A second command, so that `run` is a sub-command."""


def _run(*args: str) -> tuple[int, str]:
    seen.clear()
    result = runner.invoke(app, ["run", *args])
    return result.exit_code, result.output


def test_every_field_is_a_flag_with_its_docstring_as_help():
    code, out = _run("--help")
    out = " ".join(out.replace("│", " ").split())  # the help table wraps at 80 columns
    assert code == 0
    for flag, help in [
        ("--data", "Where the data are: a dataset name (co2, elnino, lorenz63,"),  # and all names
        ("--hidden-size", "State size."),
        ("--rate", "Learning rate"),
        ("--kind", "How to run."),
        ("--verbose", "Say more."),
        ("--name", "A name."),
        ("--config", "TOML"),
    ]:
        assert flag in out and help in out, flag
    assert "--no-verbose" in out and "fast" in out and "slow" in out
    assert "--width" not in out  # an internal field


def test_flags_build_the_config():
    code, out = _run("--data", "d.npy", "--hidden-size", "3", "--kind", "slow", "--no-verbose")
    assert code == 0, out
    cfg, name = seen[0]
    assert cfg == RunConfig(data="d.npy", hidden_size=3, kind="slow", verbose=False)
    assert name == "x"


def test_the_file_fills_in_and_flags_win(tmp_path):
    (tmp_path / "c.toml").write_text('data = "f.npy"\nhidden_size = 5\nrate = 0.5\n')
    code, out = _run("--config", str(tmp_path / "c.toml"), "--hidden-size", "7")
    assert code == 0, out
    assert seen[0][0] == RunConfig(data="f.npy", hidden_size=7, rate=0.5)


@pytest.mark.parametrize(
    "args, flag",
    [
        ([], "--data"),  # required: on the command line or in the file
        (["--data", "d", "--hidden-size", "0"], "--hidden-size"),  # the config's own check
        (["--data", "d", "--kind", "medium"], "--kind"),  # not one of the Literal's values
        (["--data", "d", "--rate", "abc"], "--rate"),  # not a number
        (["--data", "d", "--config", "missing.toml"], "--config"),
    ],
)
def test_errors_are_one_line_naming_the_flag(args, flag):
    code, out = _run(*args)
    lines = out.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("Error: "), out
    assert flag in lines[0]
    assert not seen


def test_adding_a_field_adds_a_flag():
    @dataclasses.dataclass(frozen=True)
    class Bigger(RunConfig):
        patience: int = 3
        """Stop after this many bad checks."""

    local = new_app()
    got = []

    @local.command()
    @config_options(Bigger)
    def go(cfg: Bigger) -> None:
        got.append(cfg)

    result = runner.invoke(local, ["--help"])
    words = " ".join(result.output.replace("│", " ").split())
    assert "--patience" in words and "Stop after this many bad checks." in words
    result = runner.invoke(local, ["--data", "d", "--patience", "9"])
    assert result.exit_code == 0, result.output
    assert got == [Bigger(data="d", patience=9)]


def test_an_option_that_is_also_a_field_is_refused():
    with pytest.raises(TypeError, match="hidden_size"):

        @config_options(RunConfig)
        def clash(cfg: RunConfig, hidden_size: int = 1) -> None: ...
