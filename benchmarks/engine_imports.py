"""The import graph of `paratime._engine` (module-level and function-level imports), and
its cycles.

    python benchmarks/engine_imports.py            # edges, then cycles (none: "no cycle")

Reads the source with `ast` (nothing is imported). An edge A -> B means a module of the engine
imports B, at the top or inside a function (marked "lazy").
"""

import ast
import itertools
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "src" / "paratime" / "_engine"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "(package)"


def resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    base = current.split(".") if current != "(package)" else []
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else [])) or "(package)"


def edges() -> dict[tuple[str, str], bool]:
    """(importer, imported) -> lazy (only inside functions)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    found: dict[tuple[str, str], bool] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top = set(id(n) for n in tree.body)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            is_pkg = path.name == "__init__.py"
            target = resolve(name, is_pkg, node.level, node.module)
            prefix = "" if target == "(package)" else f"{target}."
            candidates = [f"{prefix}{a.name}" for a in node.names]
            if not any(c in modules for c in candidates):
                candidates = [target]
            for c in candidates:
                if c in modules and c != name:
                    lazy = id(node) not in top
                    found[(name, c)] = found.get((name, c), True) and lazy
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []
    counter = itertools.count()

    def visit(v: str) -> None:
        index[v] = low[v] = next(counter)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> None:
    found = edges()
    graph: dict[str, set[str]] = {}
    for (a, b), lazy in sorted(found.items()):
        print(f"{a} -> {b}{' (lazy)' if lazy else ''}")
        graph.setdefault(a, set()).add(b)
    # Cycles among the modules, leaving out the package __init__ files (re-exports only).
    inner = {
        a: {b for b in bs if b not in ("(package)", "_solver")}
        for a, bs in graph.items()
        if a not in ("(package)", "_solver")
    }
    found_cycles = cycles(inner)
    print("cycles:", found_cycles if found_cycles else "no cycle")
    sys.exit(1 if found_cycles else 0)


if __name__ == "__main__":
    main()
