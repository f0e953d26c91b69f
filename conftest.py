"""Documentation blocks as tests (`pytest --markdown-docs README.md docs/solvers.md`).

Every ```python block of README.md and docs/*.md runs as written, in a fresh namespace, with
JAX's defaults (float32, one CPU device): what a reader who copies it gets. The fence's info
string may carry two words after `python`:

- `continuation`: the block goes on from the block before it (pytest-markdown-docs' own);
- `fragment`: the block is part of an expression or names values the prose describes, so it
  cannot run alone. It is collected and reported as skipped, never dropped silently.

The docs site strips these words from the fences (docs/hooks/fences.py).
"""

import pytest

FRAGMENT = "fragment"


def _fence_words(item: pytest.Item) -> list[str]:
    definition = getattr(item, "test_definition", None)
    if definition is None:
        return []
    # start_line is the 1-based number of the fence line (the code starts on the next one).
    lines = definition.source_path.read_text(encoding="utf8").splitlines()
    return lines[definition.start_line - 1].strip().lstrip("`~").split()[1:]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FRAGMENT in _fence_words(item):
            line = item.test_definition.start_line
            reason = f"documentation fragment (fence on line {line}), not runnable alone"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _docs_in_a_temporary_folder(request: pytest.FixtureRequest, tmp_path, monkeypatch):
    """Documentation blocks run in an empty folder: what they write (`out_dir="run"`) lands
    there, and nothing beside the repository can be read by accident."""
    if getattr(request.node, "test_definition", None) is not None:
        monkeypatch.chdir(tmp_path)
