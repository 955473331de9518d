"""The layers hold: the generic core knows nothing of the DTI or of outputs, nothing imports the
CLI, and no module imports itself back through others (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mergetool"

#: Which layers each layer may import (besides its own). ``errors`` and the package root (its
#: version) sit below everything; ``core`` and ``io`` are one generic layer.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "core": {"base", "io"},
    "io": {"base", "core"},
    "dti": {"base", "core", "io"},
    "outputs": {"base", "core", "io", "dti"},
    "cli": {"base", "core", "io", "dti", "outputs", "api"},
    "api": {"base", "core", "io", "dti", "outputs"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] in ("core", "io", "dti", "outputs"):
        return parts[1]
    if parts[1] in ("cli", "__main__"):
        return "cli"
    return "base"  # mergetool.errors


def _typing_only(tree: ast.AST) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only: no import at run)."""
    return {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
            and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
            for stmt in block.body for n in ast.walk(stmt)}


def imports_of(path: Path, *, typing: bool = True) -> set[str]:
    """Every mergetool module ``path`` imports, at module top or inside a function (and, with
    ``typing``, under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if typing else _typing_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "mergetool"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "mergetool":
            for a in node.names:  # ``from mergetool.core import units`` imports a module
                sub = f"{node.module}.{a.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else node.module)
    return found


def graph(*, typing: bool = True) -> nx.DiGraph:
    g = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        g.add_node(name)
        for target in imports_of(path, typing=typing):
            if target != name:
                g.add_edge(name, target)
    return g


def test_the_package_has_the_four_layers() -> None:
    names = set(graph())
    for pkg in ("core", "io", "dti", "outputs"):
        assert any(n.startswith(f"mergetool.{pkg}.") for n in names), pkg


def test_no_module_imports_a_layer_above_its_own() -> None:
    bad = [f"{a} ({layer(a)}) imports {b} ({layer(b)})" for a, b in graph().edges
           if layer(b) != layer(a) and layer(b) not in ALLOWED[layer(a)]
           and not (b == "mergetool" and layer(a) != "api")]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_cli() -> None:
    g = graph()
    assert sorted(a for a, _ in g.in_edges("mergetool.cli")) == ["mergetool.__main__"]


def test_no_import_cycles() -> None:
    g = graph(typing=False)
    g.remove_nodes_from([n for n in list(g) if n == "mergetool"])  # the root only re-exports, lazily
    cycles = list(nx.simple_cycles(g))
    assert not cycles, "\n".join(" -> ".join([*c, c[0]]) for c in cycles[:20])


@pytest.mark.parametrize(("a", "b"), [("mergetool.core.rebase", "mergetool.dti.checks"),
                                      ("mergetool.dti.checks", "mergetool.core.rebase")])
def test_the_rule_catches_a_violation(a: str, b: str) -> None:
    """The walker sees function-level imports: a planted one is reported."""
    allowed = layer(b) in ALLOWED[layer(a)]
    assert allowed == (layer(a) == "dti")


def test_the_public_api_resolves() -> None:
    import mergetool

    missing = [n for n in mergetool.__all__ if getattr(mergetool, n, None) is None]
    assert not missing
    assert "build" in dir(mergetool)
    with pytest.raises(AttributeError):
        _ = mergetool.no_such_name  # type: ignore[attr-defined]  # the lookup must fail


def test_importing_the_core_loads_no_application() -> None:
    """At run time too: rebasing with the core pulls in neither the DTI nor the outputs."""
    import subprocess
    import sys

    code = ("import sys, mergetool.core.rebase, mergetool.io.scores, mergetool.core.provenance; "
            "print(sorted(m for m in sys.modules if m.startswith(('mergetool.dti', "
            "'mergetool.outputs', 'mergetool.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_assert_and_no_blanket_except_in_the_product() -> None:
    """Runtime checks raise (an ``assert`` vanishes under ``python -O``), and each ``except``
    names the exceptions it means (a blanket one would hide a bug as a bad-input message);
    only a handler that cleans up and re-raises may catch everything."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert):
                bad.append(f"{path.name}:{node.lineno} assert")
            reraises = isinstance(node, ast.ExceptHandler) and isinstance(node.body[-1], ast.Raise) \
                and node.body[-1].exc is None  # clean up, then let it go on: hides nothing
            if isinstance(node, ast.ExceptHandler) and not reraises and (
                    node.type is None or (isinstance(node.type, ast.Name)
                                          and node.type.id in ("Exception", "BaseException"))):
                bad.append(f"{path.name}:{node.lineno} blanket except")
    assert not bad, "\n".join(bad)


def test_a_build_imports_no_graph_library(tmp_path) -> None:
    """``mergetool build`` walks the transitions' edges, not the networkx graph: its start-up
    does not pay for importing networkx (the mapping's graph is built only where it is used)."""
    import subprocess
    import sys

    code = ("import atexit, sys; from mergetool.cli import main; "
            "atexit.register(lambda: print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('networkx', 'matplotlib', 'pandas')), file=sys.stderr)); "
            f"sys.argv = ['mergetool', 'build', '--out', {str(tmp_path / 'out')!r}, "
            "'--fail-on', 'never']; main()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "[]"
