"""The scripts in benchmarks/ that regenerate the docs' tables and figures (run from the
repository root as `python -m benchmarks.<name> ...`): they import and run here."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench.report import load_results, write_report  # noqa: E402

from paratime.bench import grid, run_bench  # noqa: E402


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    groups = grid(cells=("GRU",), Ts=(16,), Ns=(3,), batches=(1,))
    solvers = ("Sequential", "DEER", "naive-DEER")
    path = run_bench(groups, solvers=solvers, out_dir=out, repeats=1, progress=False)
    return load_results([path])


def test_report_and_figures(records, tmp_path):
    md = write_report(
        records, tmp_path / "docs" / "benchmarks.md", figures=tmp_path / "docs" / "figures"
    )
    text = md.read_text()
    assert "| N | T | Sequential | DEER |" in text and "Load caveat" in text
    figs = list((tmp_path / "docs" / "figures").glob("bench_*.png"))
    assert len(figs) >= 3 and all(f.stat().st_size > 1000 for f in figs)


def test_ablation_runs_only_the_named_experiments(tmp_path):
    from benchmarks.bench.ablation import run_ablation

    with pytest.raises(ValueError, match="unknown experiments"):
        run_ablation(tmp_path, quick=True, only=["no such technique"])
    path = run_ablation(tmp_path, quick=True, repeats=2, only=["mixed precision"])
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["experiment"] for r in records} == {"mixed precision"}
    assert {r["variant"] for r in records} == {"float32", "bfloat16"}
    assert all(len(r["times_s"]) == 2 and r["min_s"] <= r["median_s"] for r in records)


def test_report_compares_times_of_one_run():
    from benchmarks.bench.report import _latest, ablation_section, auto_check

    def rec(solver, median, date, **kw):
        return dict(
            device="cpu", cell="GRU", N=4, T=10, batch=1, workload="forward", solver=solver,
            status="ok", median_s=median, min_s=median, date=date, **kw,
        )  # fmt: skip

    records = [
        rec("Sequential", 1.0, "d1"),
        rec("DEER", 4.0, "d1"),
        rec("Auto", 1.0, "d1"),
        rec("Sequential", 2.0, "d2"),  # a later, slower run of two solvers only
        rec("Auto", 2.0, "d2"),
    ]
    latest = {r["solver"]: r for r in _latest(records)}
    assert latest["DEER"]["sequential_median_s"] == 1.0  # its own run's Sequential, not d2's
    assert latest["Auto"]["sequential_median_s"] == 2.0
    # Auto (d2) is compared with Sequential of d2 (1.0×), not with d1's faster Sequential.
    assert [r["ratio"] for r in auto_check(records, "median_s")] == [1.0]

    def ablation(variant, median, date):
        return dict(
            device="cpu", experiment="e", setting="s", variant=variant, median_s=median,
            ratio=1.0, date=date, load_avg=0.5,
        )  # fmt: skip

    rows = ablation_section([ablation("a", 1.0, "d1"), ablation("b", 9.0, "d1")] + [
        ablation("a", 2.0, "d2")
    ])  # fmt: skip
    table = [line for line in rows if line.startswith("| e |")]
    assert len(table) == 1 and "| a |" in table[0] and "d2" in table[0]  # the latest run only


def test_each_benchmark_group_has_a_command_line():
    import benchmarks.bench.__main__ as bench
    import benchmarks.decomp.__main__ as decomp
    import benchmarks.elm.__main__ as elm
    import benchmarks.pararealnet.__main__ as pararealnet
    from typer.testing import CliRunner

    expected = {
        bench: ("report", "ablation"),
        decomp: ("evidence", "retime", "plot"),
        elm: ("bench", "lstsq", "plot"),
        pararealnet: ("layer-parallel", "time", "plot"),
    }
    for module, commands in expected.items():
        result = CliRunner().invoke(module.app, ["--help"])
        assert result.exit_code == 0, result.output
        for command in commands:
            assert command in result.output, (module.__name__, command)


def test_elm_table_is_written_between_markers(tmp_path):
    from benchmarks.elm.__main__ import _write_table
    from benchmarks.elm.comparison import markdown_table

    side = {"train_seconds": 2.0, "rmse": 0.5, "nrmse_multistep": 0.9}
    row = {"dataset": "d", "arch": "gru", "parallel_solver": "QuasiDEER",
           "elm": {"train_seconds": 0.1, "rmse": 0.4, "nrmse_multistep": 0.8},
           "bptt_sequential": side, "bptt_parallel": {"error": "boom"},
           "ratio_bptt_sequential": 20.0, "cpu_ratio_bptt_sequential": 15.0,
           "ratio_bptt_parallel": None}  # fmt: skip
    table = markdown_table([row])
    assert "| d | gru | 0.1 | 2 | — (QuasiDEER) | 20.0× (15.0×) | — | 0.4 | 0.5 | — |" in table
    doc = tmp_path / "elm.md"
    doc.write_text("# ELM\n\n<!-- elm-bench:start -->\nold\n<!-- elm-bench:end -->\n\nafter\n")
    _write_table(doc, table)
    text = doc.read_text()
    assert "old" not in text and table in text and text.endswith("after\n")
