"""Build the wheel and the sdist, check them, install the wheel in a fresh venv and use it.

    python .ci/check_dist.py [--outdir dist] [--online]

1. `python -m build --no-isolation` (hatchling from this environment: no download).
2. `twine check --strict` on both files, and their contents: the package with `py.typed`
   and the license in the wheel; LICENSE, CHANGELOG.md, CITATION.cff and the tests in the
   sdist; no tests, benchmarks or docs in the wheel.
3. A fresh venv (`python -m venv --without-pip`), the wheel installed into it with no
   dependencies. By default the core dependencies come from this environment, made visible
   to the fresh venv behind its own site-packages (so no download is needed, and the
   installed wheel, not the source tree, is what gets imported); `pip check` then confirms
   that the wheel's requirements are met. With `--online`, pip resolves and installs the
   core dependencies from the package index instead, as a user's `pip install` would.
4. In the fresh venv, with every optional extra made unimportable: `import paratime`, from
   the venv's own site-packages, and a tiny `unroll` with DEER against `Sequential`.

Exits non-zero, naming the failed step, on any failure.
"""

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Top-level modules of the optional extras (plot, cli, data, lstsq) and of the dev tools:
# the installed wheel must import and run without any of them.
EXTRAS = (
    "matplotlib", "typer", "rich", "reservoirpy", "statsmodels", "sklearn", "lineax",
    "pytest", "hypothesis", "beartype",
)  # fmt: skip
SMOKE = f"""
import sys
for name in {EXTRAS!r}:
    sys.modules[name] = None  # importing an extra now raises ImportError
import jax, jax.numpy as jnp, paratime
from pathlib import Path
here = Path(paratime.__file__).resolve()
assert here.is_relative_to(Path(sys.prefix).resolve()), f"imported {{here}}, not the wheel"
assert (Path(paratime.__file__).parent / "py.typed").is_file()
cell = paratime.cells.GRU(2, 4, key=jax.random.key(0))
xs = jnp.ones((16, 2))
deer = paratime.unroll(cell, cell.init_state(), xs, solver=paratime.DEER())
seq = paratime.unroll(cell, cell.init_state(), xs, solver=paratime.Sequential())
assert deer.states.shape == (16, 4) and float(jnp.max(jnp.abs(deer.states - seq.states))) < 1e-5
print("paratime", paratime.__version__, "from", Path(paratime.__file__).parent, "ok:", deer.result)
"""


def run(step: str, *cmd: str | os.PathLike, **kwargs) -> None:
    print(f"== {step}: {' '.join(map(str, cmd))}", flush=True)
    if subprocess.run([str(c) for c in cmd], **kwargs).returncode != 0:
        sys.exit(f"check_dist: {step} failed")


def check_contents(wheel: Path, sdist: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    want = ["paratime/__init__.py", "paratime/py.typed", "paratime/_engine/_unroll.py"]
    missing = [n for n in want if n not in names]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        missing.append("*.dist-info/licenses/LICENSE")
    stray = [n for n in names if n.split("/")[0] in ("tests", "benchmarks", "docs")]
    with tarfile.open(sdist) as tar:
        top = {Path(*Path(n).parts[1:]).as_posix() for n in tar.getnames()}
    for name in ("LICENSE", "CHANGELOG.md", "CITATION.cff", "pyproject.toml", "tests/conftest.py"):
        if name not in top:
            missing.append(f"{sdist.name}:{name}")
    if missing or stray:
        sys.exit(f"check_dist: contents: missing {missing}, unexpected {stray[:5]}")
    print(f"== contents: {len(names)} files in the wheel, {len(top)} in the sdist: ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist")
    parser.add_argument("--online", action="store_true", help="Install the deps from PyPI.")
    args = parser.parse_args()
    out = args.outdir.resolve()
    shutil.rmtree(out, ignore_errors=True)
    python = sys.executable
    run("build", python, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    (wheel,), (sdist,) = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    run("twine check", python, "-m", "twine", "check", "--strict", wheel, sdist)
    check_contents(wheel, sdist)
    with tempfile.TemporaryDirectory(prefix="paratime-wheel-") as tmp:
        venv = Path(tmp) / "venv"
        run("venv", python, "-m", "venv", "--without-pip", venv)
        fresh = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        pip = (python, "-m", "pip", "--python", fresh)
        if args.online:
            run("install", *pip, "install", "-q", wheel)
        else:
            run("install", *pip, "install", "-q", "--no-deps", "--no-index", wheel)
            purelib = subprocess.run(
                [fresh, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            # Appended after the venv's own site-packages: the wheel wins over any copy of
            # paratime here (an editable install is a .pth, which is not processed there).
            ours = sysconfig.get_paths()["purelib"]
            (Path(purelib) / "_core_deps.pth").write_text(ours + "\n")
            run("pip check", *pip, "check")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        (Path(tmp) / "smoke.py").write_text(SMOKE)
        run("import and unroll", fresh, "smoke.py", cwd=tmp, env=env)
    print(f"check_dist: ok ({wheel.name}, {sdist.name})")


if __name__ == "__main__":
    main()
