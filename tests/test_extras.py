"""Optional dependencies: `import paratime` needs none of them, and a missing one is one line
saying which extra to install and why (tested by blocking the import)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import paratime
from paratime._extras import MissingExtraError, require

SRC = str(Path(paratime.__file__).resolve().parents[1])
OPTIONAL = ("matplotlib", "sklearn", "statsmodels", "reservoirpy", "typer", "rich", "lineax")


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def _block(monkeypatch, *modules: str) -> None:
    """Make `import <module>` fail as if the package were not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def test_import_paratime_is_light_and_applications_load_lazily():
    code = (
        "import sys, paratime\n"
        f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))\n"
        "print(paratime.dsr.DSRModel.__name__, paratime.data.lorenz63.__name__)\n"
        "print('elm' in dir(paratime), hasattr(paratime, 'no_such_thing'))\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "DSRModel lorenz63", "True False"]


def test_the_engine_works_with_every_extra_blocked():
    code = (
        "import sys\n"
        f"for m in {OPTIONAL!r}: sys.modules[m] = None\n"
        "import jax.numpy as jnp, paratime\n"
        "cell = lambda h, x: jnp.tanh(0.5 * h + x)\n"
        "sol = paratime.unroll(cell, jnp.zeros(2), jnp.ones((8, 2)), solver=paratime.DEER())\n"
        "print(sol.states.shape)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(8, 2)"


def test_the_command_without_typer_says_which_extra():
    code = "import sys\nsys.modules['typer'] = None\nfrom paratime.cli import main\nmain()\n"
    result = _python(code)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'paratime[cli]'" in lines[0], result.stderr
    assert lines[0].startswith("Error: The paratime command line needs typer")


def test_require_names_the_extra(monkeypatch):
    _block(monkeypatch, "lineax")
    with pytest.raises(MissingExtraError, match=r"Solving needs lineax.*paratime\[lstsq\]"):
        require("lineax", "Solving")
    assert isinstance(MissingExtraError("x"), ImportError)


def test_digits_without_scikit_learn(monkeypatch, tmp_path):
    _block(monkeypatch, "sklearn")
    with pytest.raises(MissingExtraError, match=r"digits dataset needs scikit-learn"):
        paratime.pararealnet.load_dataset("digits")
    args = ["pararealnet", "train", "--data", "digits", "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(paratime.cli.app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "scikit-learn" in lines[0] and "pip install 'paratime[data]'" in lines[0]


@pytest.mark.parametrize(
    "module, name, package",
    [("statsmodels", "sunspots", "statsmodels"), ("reservoirpy", "santafe", "reservoirpy")],
)
def test_datasets_without_their_package(monkeypatch, module, name, package):
    _block(monkeypatch, module)
    with pytest.raises(MissingExtraError, match=rf"needs {package}.*paratime\[data\]"):
        paratime.data.load(name)


def test_plots_without_matplotlib(monkeypatch):
    from paratime.dsr._plots import plot_curves

    _block(monkeypatch, "matplotlib")
    with pytest.raises(MissingExtraError, match=r"matplotlib.*paratime\[plot\]"):
        plot_curves([{"step": 0, "loss": 1.0}])


def test_plots_return_a_figure_and_leave_pyplot_alone():
    from paratime.dsr._plots import plot_attractor, plot_curves

    x = np.random.default_rng(0).standard_normal((50, 3))
    before = set(sys.modules)
    fig = plot_attractor(x, x)
    assert type(fig).__name__ == "Figure" and len(fig.axes) == 2
    assert plot_curves([{"step": 0, "loss": 1.0}, {"step": 1, "loss": 0.5}]) is not None
    assert plot_curves([{"step": 0}]) is None
    assert "matplotlib.pyplot" not in set(sys.modules) - before
