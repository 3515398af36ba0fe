"""The layout the README promises: no import cycles, dependencies one way, short top levels.

Every import counts, including the ones inside functions (a lazy import still ties two modules
together: it only moves the cycle from import time to call time). ``from pkg import name``
is an edge to the module ``pkg.name`` when that is a module of ours, else to ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "models", "schemas")

# Which layer may import which (prefix -> allowed prefixes besides itself). The first
# matching prefix wins, so the more specific ones come first.
ALLOWED: dict[str, tuple[str, ...]] = {
    "schemas": (),
    "models": ("schemas",),
    "streams.core": ("models", "schemas"),
    "streams.settings": ("streams.core",),
    # Kafka client configuration (both libraries) from settings; every Kafka client uses it.
    "streams.kafkaconfig": ("streams.settings",),
    "streams.runtime": ("streams.core", "streams.settings", "models", "schemas"),
    "streams.local": ("streams.settings",),
    "streams.worker": ("streams.core", "streams.runtime", "streams.settings",
                       "streams.kafkaconfig", "models", "schemas"),
    "streams.integrations": ("streams.settings", "streams.kafkaconfig", "schemas"),
    "streams.commands": ("streams.core", "streams.runtime", "streams.settings",
                         "streams.kafkaconfig", "streams.local", "streams.worker",
                         "streams.integrations", "models", "schemas"),
    # bench.routes measures the worker's fetch hook against a confluent-kafka alternative.
    "streams.bench": ("streams.commands", "streams.core", "streams.runtime", "streams.local",
                      "streams.settings", "streams.kafkaconfig", "streams.worker", "models",
                      "schemas"),
    # The entry point turns settings and Kafka errors into one line.
    "streams.cli": ("streams.commands", "streams.local", "streams.settings",
                    "streams.kafkaconfig", "models"),
    "streams": (),  # the package's own __init__
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if sub in known else mod)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def layer(name: str) -> str:
    return next(p for p in ALLOWED if name == p or name.startswith(p + "."))


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_streams_models_schemas() -> None:
    assert cycles(graph()) == []


def test_dependencies_point_one_way() -> None:
    wrong = []
    for mod, deps in graph().items():
        own = layer(mod)
        allowed = (own, *ALLOWED[own])
        for dep in deps:
            if not any(dep == a or dep.startswith(a + ".") for a in allowed):
                wrong.append(f"{mod} imports {dep}")
    assert wrong == []


def test_streams_top_level_holds_at_most_12_modules() -> None:
    top = sorted(p.name for p in (ROOT / "streams").glob("*.py"))
    assert len(top) <= 12, top


def test_every_package_says_what_lives_there() -> None:
    missing = [str(p.relative_to(ROOT)) for pkg in PACKAGES
               for p in (ROOT / pkg).rglob("__init__.py")
               if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert missing == []
