"""`python -m benchmarks.bench report|ablation` (run from the repository root).

- `report`: regenerate docs/benchmarks.md and docs/figures/bench_*.png from the JSON lines
  that `paratime bench` wrote to benchmarks/results/.
- `ablation`: time each optimisation technique against its alternative, side by side.
"""

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)
NOTES = Path(__file__).resolve().parents[2] / "docs" / "benchmarks_notes.md"


@app.command("report")
def report_cmd(
    results: Annotated[
        list[Path] | None, typer.Argument(help="Results files or directories.")
    ] = None,
    docs: Annotated[Path, typer.Option(help="The markdown file to write.")] = Path(
        "docs/benchmarks.md"
    ),
) -> None:
    """Regenerate docs/benchmarks.md and docs/figures/bench_*.png from the results files."""
    from .report import load_results, write_report

    records = load_results(results or [Path("benchmarks/results")])
    notes = NOTES.read_text() if NOTES.exists() else ""
    path = write_report(records, docs, figures=docs.parent / "figures", notes=notes)
    typer.echo(f"wrote {path}")


@app.command("ablation")
def ablation_cmd(
    out_dir: Annotated[Path, typer.Option(help="Results directory.")] = Path("benchmarks/results"),
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per variant.")] = 7,
    only: Annotated[
        list[str] | None, typer.Option(help="Only the experiments of these names (repeatable).")
    ] = None,
) -> None:
    """Measure each optimisation technique against its alternative (side by side)."""
    from .ablation import run_ablation

    typer.echo(f"results: {run_ablation(out_dir, repeats=repeats, only=only or None)}")


if __name__ == "__main__":
    app()
