"""The `paratime` command: every group is registered, and the demo (the main job) runs."""

import re

import jax
import pytest
from typer.testing import CliRunner

import paratime
from paratime._names import SOLVER_NAMES
from paratime.cli import app
from paratime.cli._demo import solver_label


def test_every_group_is_registered():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("demo", "bench", "dsr", "elm", "pararealnet"):
        assert group in result.output


def test_demo_runs_every_solver_and_trains():
    args = ["demo", "--length", "64", "--hidden", "4", "--steps", "20", "--train-length", "64"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for solver in ("sequential", "deer", "quasi-deer", "elk", "quasi-elk", "deer-chunked", "auto"):
        assert solver in result.output
    assert "failed" not in result.output
    assert "auto: " in result.output and "Auto chose" not in result.output  # trained with DEER
    assert "on a CPU the sequential scan wins" in result.output and "on a GPU" in result.output
    first, last = result.output.split("loss ")[-1].split(" in ")[0].split(" -> ")
    assert float(last) < float(first)


def test_demo_rejects_an_unknown_solver():
    result = CliRunner().invoke(app, ["demo", "--solver", "newton", "--length", "8"])
    assert result.exit_code == 2
    assert "--solver" in result.output and "quasi-deer" in result.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"paratime {paratime.__version__}"


@pytest.mark.parametrize(
    "command, extra",
    [(["dsr", "train"], ()), (["dsr", "eval"], ()), (["elm", "fit"], ("narma10",))],
)
def test_data_help_lists_every_dataset_name_at_80_columns(command, extra):
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=80)
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # undo the wrapping
    text = re.sub(r"(\w)- (\w)", r"\1-\2", text)  # and the hyphenation of mackey-glass
    for name in (*paratime.data.DATASETS, *extra):
        assert name in text, name
    assert "…" not in result.output  # nothing is cut off


def test_solver_choices_are_not_cut_off_at_80_columns():
    result = CliRunner().invoke(app, ["dsr", "train", "--help"], terminal_width=80)
    assert "|".join(SOLVER_NAMES) in result.output and "…" not in result.output


def test_the_demo_names_the_solver_auto_picks():
    args = ["demo", "--length", "16", "--hidden", "2", "--steps", "2", "--train-length", "16"]
    result = CliRunner().invoke(app, [*args, "--solver", "auto"])
    assert result.exit_code == 0, result.output
    chosen = paratime.Auto().select(paratime.cells.GRU(3, 2, key=jax.random.key(0)), 16, 2)
    assert f"Auto chose {solver_label(chosen)} for training on cpu" in result.output
