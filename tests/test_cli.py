"""The `paratime` command: every group is registered, and the demo (the main job) runs."""

from typer.testing import CliRunner

from paratime.cli import app


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
    first, last = result.output.split("loss ")[-1].split(" in ")[0].split(" -> ")
    assert float(last) < float(first)


def test_demo_rejects_an_unknown_solver():
    result = CliRunner().invoke(app, ["demo", "--solver", "newton", "--length", "8"])
    assert result.exit_code == 2
    assert "--solver" in result.output and "quasi-deer" in result.output
