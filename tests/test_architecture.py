"""The package's shape, held by its import graph (docs/architecture.md is the prose of this file).

The graph is built with ``ast`` from every ``import`` in ``multivector/``: module-level, inside
functions and under ``TYPE_CHECKING`` alike, since each is a dependency a reader has to follow.
``from pkg import name`` depends on ``pkg`` (its ``__init__`` runs first) and, when ``name`` is a
submodule, on ``pkg.name`` too; ``import a.b.c`` depends on ``a.b.c`` only (parent packages are
not counted, as in grimp / import-linter).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "multivector"
MAX_LINES = 400

#: Layer of each top-level part of the package, lowest first. A module may import modules of its
#: own layer or of a lower one, never a higher one; two layers of one rank may not import each other.
LAYERS: dict[str, int] = {
    "ground": 0,
    "schema": 1,
    "text": 2,
    "kernels": 2,
    "embeddings": 3,
    "testing": 3,
    "backends": 4,
    "retrieval": 5,
    "api": 6,
    "integrations": 7,
    "evaluation": 7,
    "facade": 8,
}
GROUND = {
    "errors",
    "_types",
    "results",
    "results_grouped",
    "_checks",
    "_version",
    "_uuid",
    "_progress",
    "_secrets",
}
#: The documented public modules that only re-export a layer's names.
SHIMS = {"config": "schema", "query": "schema"}

#: Third-party packages that may be imported only inside one part of the package.
CONFINED = {
    "langchain_core": "multivector.integrations.langchain",
    "langchain": "multivector.integrations.langchain",
    "llama_index": "multivector.integrations.llama_index",
    "qdrant_client": "multivector.backends.qdrant",
    "sqlite3": "multivector.backends.durable",
}


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    lines: int
    internal: set[str] = field(default_factory=set)
    external: set[str] = field(default_factory=set)


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _imports(tree: ast.AST, name: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """``(target module, imported name or None)`` for every import statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                yield target, alias.name


def build_graph() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name, is_package = _module_name(path)
        modules[name] = Module(name, path, is_package, len(path.read_text().splitlines()))
    for mod in modules.values():
        tree = ast.parse(mod.path.read_text(), filename=str(mod.path))
        for target, imported in _imports(tree, mod.name, mod.is_package):
            if target == "multivector" or target.startswith("multivector."):
                if target in modules:
                    mod.internal.add(target)
                if imported is not None and f"{target}.{imported}" in modules:
                    mod.internal.add(f"{target}.{imported}")
            else:
                mod.external.add(target)
        mod.internal.discard(mod.name)
    return modules


GRAPH = build_graph()


def layer_of(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "facade"
    if parts[1] in GROUND:
        return "ground"
    if parts[1] in SHIMS:
        return SHIMS[parts[1]]
    return parts[1]


def test_every_module_has_a_layer():
    unknown = {name: layer_of(name) for name in GRAPH if layer_of(name) not in LAYERS}
    assert not unknown, f"modules outside every layer (add them to LAYERS or move them): {unknown}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycles = _cycles({name: mod.internal for name, mod in GRAPH.items()})
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_over_the_line_limit():
    long = {name: mod.lines for name, mod in GRAPH.items() if mod.lines > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_layers_import_only_downwards():
    bad = []
    for name, mod in GRAPH.items():
        own = layer_of(name)
        for target in mod.internal:
            other = layer_of(target)
            if other != own and LAYERS[other] >= LAYERS[own]:
                bad.append(f"{name} ({own}) -> {target} ({other})")
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))


def test_kernels_import_only_the_ground():
    bad = [
        f"{name} -> {target}"
        for name, mod in GRAPH.items()
        if layer_of(name) == "kernels"
        for target in mod.internal
        if layer_of(target) not in ("kernels", "ground")
    ]
    assert not bad, bad


def test_embeddings_know_no_storage_retrieval_or_framework():
    bad = [
        f"{name} -> {target}"
        for name, mod in GRAPH.items()
        if layer_of(name) == "embeddings"
        for target in mod.internal
        if layer_of(target) in ("backends", "api", "retrieval", "integrations", "evaluation")
    ]
    assert not bad, bad


def test_backends_do_not_reach_into_each_other():
    # durable storage sits under the embedded engine (it opens EmbeddedCollection over SQLite);
    # Qdrant is a separate engine and shares nothing with either.
    allowed = {
        "embedded": {"embedded"},
        "durable": {"durable", "embedded"},
        "qdrant": {"qdrant"},
    }
    bad = []
    for name, mod in GRAPH.items():
        parts = name.split(".")
        if len(parts) < 4 or parts[1] != "backends":
            continue
        for target in mod.internal:
            tparts = target.split(".")
            if len(tparts) >= 3 and tparts[1] == "backends" and tparts[2] != "protocol":
                if tparts[2] not in allowed[parts[2]]:
                    bad.append(f"{name} -> {target}")
    assert not bad, bad


@pytest.mark.parametrize("package", sorted(CONFINED))
def test_heavy_dependencies_stay_in_their_package(package):
    home = CONFINED[package]
    bad = [
        name
        for name, mod in GRAPH.items()
        if any(ext == package or ext.startswith(package + ".") for ext in mod.external)
        and not (name == home or name.startswith(home + "."))
    ]
    assert not bad, f"{package} imported outside {home}: {bad}"


def test_graph_sees_function_level_and_type_checking_imports():
    # The knot this test exists for: a lazy import is still an edge.
    source = "def f():\n    from multivector.api.client import Client\nif TYPE_CHECKING:\n    import multivector.retrieval.plan\n"
    found = list(_imports(ast.parse(source), "multivector.x", False))
    assert ("multivector.api.client", "Client") in found
    assert ("multivector.retrieval.plan", None) in found
