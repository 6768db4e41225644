"""The package's layers, written once: every import (also those inside functions) goes to the
same layer or a lower one, and no set of modules imports itself in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "forenscope"
# lowest first; a module may import its own layer and the ones before it
LAYERS = ("analysis", "provenance", "imageio", "signals", "nets", "data", "synth", "records", "methods", "detectors", "verdict",
          "export", "evaluate", "train", "benchmarks", "(root)", "report", "scan", "serve", "cli", "__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = (".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) + "." + (node.module or "")
                        if node.level else node.module or "").rstrip(".")
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def test_every_module_belongs_to_a_layer():
    assert {layer(m) for m in import_graph()} <= set(LAYERS)


def test_no_import_goes_up_a_layer():
    upward = [f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
              if LAYERS.index(layer(b)) > LAYERS.index(layer(a))]
    assert not upward, upward


def test_no_import_cycles():
    graph, state, cycles = import_graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_the_checker_sees_an_upward_import_and_a_cycle(tmp_path):
    """The checks above can fail: on a toy package with both faults they do."""
    global PACKAGE
    pkg = tmp_path / "forenscope"
    (pkg / "imageio").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "imageio" / "__init__.py").write_text("")
    (pkg / "imageio" / "a.py").write_text("from forenscope.imageio import b\nfrom forenscope.cli import main\n")
    (pkg / "imageio" / "b.py").write_text("def f():\n    from forenscope.imageio.a import x\n")
    (pkg / "cli.py").write_text("def main(): pass\n")
    saved, PACKAGE = PACKAGE, pkg
    try:
        graph = import_graph()
        assert "forenscope.cli" in graph["forenscope.imageio.a"]
        assert "forenscope.imageio.a" in graph["forenscope.imageio.b"]
        for check in (test_no_import_goes_up_a_layer, test_no_import_cycles):
            try:
                check()
            except AssertionError:
                continue
            raise AssertionError(f"{check.__name__} missed the fault")
    finally:
        PACKAGE = saved


def test_train_reads_only_evaluates_measures():
    """Issue 21: the trainers use evaluate's measures (metrics, the shortcut statistics), never
    its runners; protocols that train and evaluate live above both, in benchmarks/."""
    reached = {b for a, targets in import_graph().items() if layer(a) == "train"
               for b in targets if layer(b) == "evaluate"}
    assert reached <= {"forenscope.evaluate.metrics", "forenscope.evaluate.shortcuts"}, reached


def test_biggest_source_file_is_under_400_lines():
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) < 400, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
