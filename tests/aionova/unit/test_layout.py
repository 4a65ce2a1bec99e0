"""The tree's shape: no import cycles in aionova/, small modules, each process's code in its
own folder (issue 11 item 3)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "aionova"
MAX_LINES = 400
MAX_FUNCTION_LINES = 50


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _edges(name: str, path: Path) -> set[str]:
    """Modules of aionova that ``name`` imports when it runs."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # ``from aionova.x import y``: y is a module or a name in aionova.x.
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def _cycles() -> list[list[str]]:
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_cycles(tmp_path: Path) -> None:
    """The detector itself: two modules importing each other are reported."""
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("from aionova.api import servers\n")
    second.write_text("from aionova.api import server_actions\n")
    assert "aionova.api.servers" in _edges("aionova.api.server_actions", first)
    assert "aionova.api.server_actions" in _edges("aionova.api.servers", second)


def test_modules_are_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_functions_are_short() -> None:
    long = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = size
    assert long == {}


def test_compute_holds_no_database() -> None:
    """compute/ runs on compute hosts: it reaches shared state only through the conductor."""
    for path in (PACKAGE / "compute").rglob("*.py"):
        imported = _edges(_module_name(path), path)
        assert not any(m == "aionova.db" or m.startswith("aionova.db.") for m in imported), path


def test_the_compute_api_runs_in_the_api_process() -> None:
    """The API-side façade lives under api/, beside the REST layer that calls it."""
    assert not (PACKAGE / "compute" / "api.py").exists()
    for name in ("api.py", "host_api.py", "checks.py"):
        assert (PACKAGE / "api" / "compute" / name).exists()


SQL = ("SELECT ", "INSERT INTO", "DELETE FROM", "UPDATE instances", "CREATE TABLE")


def test_all_sql_is_in_db() -> None:
    """Queries live in aionova/db/ (the API, seeding and the bench go through it)."""
    offenders = []
    for folder in ("aionova", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(PACKAGE / "db"):
                continue
            if any(word in path.read_text() for word in SQL):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_queries_are_portable_and_engine_free() -> None:
    """Only the SQLite engine (and the schema) know SQLite: the entity modules write SQL
    PostgreSQL accepts too and never touch a driver."""
    sqlite_only = ("INSERT OR", "sqlite3", "aiosqlite", "PRAGMA", "BEGIN IMMEDIATE", "IFNULL(")
    engine_files = {"sqlite.py", "schema.py", "engine.py"}  # engine.py: docstrings only
    offenders = {
        path.name: [w for w in sqlite_only if w in path.read_text()]
        for path in (PACKAGE / "db").glob("*.py")
        if path.name not in engine_files and any(w in path.read_text() for w in sqlite_only)
    }
    assert offenders == {}


def test_no_private_aiosqlite_and_no_upper_pin() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for line in pyproject.splitlines():
        if "aiosqlite" in line:
            assert "<" not in line, line
    for path in PACKAGE.rglob("*.py"):
        assert "._execute(" not in path.read_text(), path


def test_the_compute_manager_wires_no_driver_and_has_no_mixins() -> None:
    """The virt driver is chosen where services are wired; the manager composes parts."""
    source = (PACKAGE / "compute" / "manager.py").read_text()
    assert "virt.fake" not in source and "FakeDriver" not in source
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                assert not node.name.endswith("Mixin"), f"{path}: {node.name}"
