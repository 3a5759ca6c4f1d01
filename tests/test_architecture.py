"""The package layout is the architecture: layers, no cycles, unique module names, documented packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlctl"
STAGE_HOMES = {"cli", "params", "stages"}  # a stage's (or command's) one name may appear once in each


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts]


def test_layer_contract_is_kept():
    """import-linter's contract in pyproject.toml (cli > stages > serve|batch|edge > ... > core)."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), imports inside functions included."""
    adj = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in adj[v]:
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for m in sorted(adj):
        if m not in index:
            visit(m)
    return found


def test_no_import_cycles():
    assert _cycles(grimp.build_graph("mlctl")) == []


def test_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: two modules importing each other inside functions are found."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cyclepkg import b\n")
    (pkg / "b.py").write_text("def g():\n    from cyclepkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("cyclepkg")) == [["cyclepkg.a", "cyclepkg.b"]]


def test_no_module_shadows_the_standard_library():
    names = {p.stem for p in _modules()} | {p.parent.name for p in _modules() if p.name == "__init__.py"}
    assert sorted(names & set(sys.stdlib_module_names)) == []


def test_module_names_are_unique():
    """No two modules share a name, apart from a stage's (or command's) one name in cli/, params/ and stages/."""
    homes: dict[str, list[str]] = {}
    for p in _modules():
        if p.parent == PACKAGE and p.name in ("__init__.py", "__main__.py"):
            continue
        if p.name == "__init__.py":
            name, where = p.parent.name, p.parent.parent
        else:
            name, where = p.stem, p.parent
        homes.setdefault(name, []).append(str(where.relative_to(ROOT)))
    clashes = {}
    for name, places in homes.items():
        if len(places) < 2:
            continue
        counts = Counter(places)
        outside = [pl for pl in places if pl.removeprefix("mlctl/").split("/")[0] not in STAGE_HOMES]
        command = any(pl == "mlctl/cli" for pl in places)
        # a command's module in cli/ may share its name with the one library module it fronts
        if max(counts.values()) > 1 or len(outside) > (1 if command else 0):
            clashes[name] = places
    assert clashes == {}


def test_every_package_says_what_belongs_in_it():
    for init in PACKAGE.rglob("__init__.py"):
        if "templates" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 8, f"{init.relative_to(ROOT)} needs a docstring saying what belongs in it"
