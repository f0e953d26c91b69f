"""Run the test suite one test file per process, as many at a time as there are cores.

Each file gets a fresh interpreter, so no JAX state (compilation caches, configuration, forced
devices) outlives the file that made it; with two cores the suite also takes about half the
time. The Python blocks of README.md and docs/*.md run the same way, one process per
Markdown file (pytest-markdown-docs; see conftest.py at the repository root), with JAX's
defaults rather than the tests' float64. Prints each file's pytest summary as it finishes,
then the totals as one line `N passed, M failed, K skipped`, and exits non-zero if any file failed.

    python tests/run_files.py            # every tests/test_*.py and documentation page
    python tests/run_files.py -k deer    # extra arguments go to every pytest
"""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
FENCE = re.compile(r"^\s*```python\b", re.MULTILINE)


def doc_pages() -> list[Path]:
    """README.md and the pages of docs/ that hold at least one ```python block."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in pages if FENCE.search(p.read_text(encoding="utf8"))]


def run(path: Path, extra: list[str]) -> tuple[Path, int, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if path.suffix == ".md":
        cmd.append("--markdown-docs")
    cmd += [str(path), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    return path, proc.returncode, proc.stdout + proc.stderr


def main() -> int:
    files = sorted(HERE.glob("test_*.py")) + doc_pages()
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    totals: dict[str, int] = {}
    failed_files = []
    with ThreadPoolExecutor(max(1, jobs or 1)) as pool:
        for path, code, output in pool.map(lambda p: run(p, sys.argv[1:]), files):
            lines = output.strip().splitlines()
            summary = lines[-1] if lines else "(no output)"
            print(f"{path.name}: {summary}", flush=True)
            # pytest's exit code 5 is "no tests collected" (e.g. everything deselected by -k).
            if code not in (0, 5):
                failed_files.append(path.name)
                print(output, flush=True)
            for n, kind in COUNT.findall(summary):
                kind = "errors" if kind.startswith("error") else kind
                totals[kind] = totals.get(kind, 0) + int(n)
    if failed_files:
        print(f"failed files: {', '.join(failed_files)}")
    failed = totals.get("failed", 0) + totals.get("errors", 0)
    if failed_files and not failed:  # a crash (e.g. a signal) leaves no pytest summary
        failed = len(failed_files)
    print(f"{totals.get('passed', 0)} passed, {failed} failed, {totals.get('skipped', 0)} skipped")
    return 1 if failed_files else 0


if __name__ == "__main__":
    sys.exit(main())
