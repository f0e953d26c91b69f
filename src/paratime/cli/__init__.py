"""The `paratime` command line: demo, bench, dsr, elm, decomp, pararealnet."""

import importlib

import typer

from ._demo import demo

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Train and evaluate recurrent networks in parallel over time.",
)
app.command()(demo)

# Each application owns its sub-command group, as a `typer.Typer` named `app`.
_GROUPS = {
    "bench": ("paratime.bench._cli", "Benchmark every solver against the sequential scan."),
    "dsr": ("paratime.dsr._cli", "Dynamical-systems reconstruction with GTF (PLRNN family)."),
    "elm": ("paratime.elm._cli", "Non-iterative ELM training of six RNN architectures."),
    "decomp": ("paratime.decomp._cli", "Decomposition in time: windows, shooting, parareal."),
    "pararealnet": ("paratime.pararealnet._cli", "Parareal neural networks (layers as time)."),
    "lm": ("paratime.lm._cli", "Byte-level language models on the Python standard library."),
}
for _name, (_module, _help) in _GROUPS.items():
    app.add_typer(importlib.import_module(_module).app, name=_name, help=_help)


def main() -> None:
    """Entry point of the `paratime` script."""
    app()
