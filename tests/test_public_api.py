"""The public API is what each namespace's `__all__` lists, and it matches the committed
list `tests/public_api.txt`: adding, removing or renaming a public name is a deliberate
change to that file, never a side effect."""

import ast
import importlib
import inspect
import pathlib

import paratime

# The public namespaces: the package, its subpackages, and the applications loaded on first use.
NAMESPACES = (
    "paratime",
    "paratime.cells",
    "paratime.nn",
    "paratime.recurrences",
    "paratime.structures",
    "paratime.train",
    *(f"paratime.{name}" for name in paratime._LAZY_SUBMODULES),
)
COMMITTED = pathlib.Path(__file__).with_name("public_api.txt")


def surface() -> list[str]:
    """`module.name` for every name in every namespace's `__all__`, and every lazy
    subpackage of `paratime`, sorted."""
    lines = {f"paratime.{name}" for name in paratime._LAZY_SUBMODULES}
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        lines |= {f"{namespace}.{name}" for name in module.__all__}
    return sorted(lines)


def test_the_public_api_is_the_committed_list():
    committed = [line for line in COMMITTED.read_text().splitlines() if line.strip()]
    now = surface()
    added = sorted(set(now) - set(committed))
    removed = sorted(set(committed) - set(now))
    assert not added and not removed, (
        f"the public API changed: added {added}, removed {removed}. If that is deliberate, "
        "regenerate the list: PYTHONPATH=src python tests/test_public_api.py > "
        "tests/public_api.txt"
    )
    assert committed == now, "keep tests/public_api.txt sorted, one name a line"


def test_every_listed_name_exists():
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        assert len(set(module.__all__)) == len(module.__all__), namespace
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{namespace}.{name}"


def test_every_explicit_re_export_is_listed():
    """`from ._x import A as A` (the re-export idiom) is public: it must be in `__all__`."""
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        tree = ast.parse(inspect.getsource(module))
        exported = {
            alias.asname
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.asname is not None and alias.asname == alias.name
        }
        missing = exported - set(module.__all__)
        assert not missing, f"{namespace} re-exports {sorted(missing)} without listing them"


if __name__ == "__main__":
    print(*surface(), sep="\n")
