"""Import rules inside the apps (the floors between apps: test_layers.py). A module-level import
cycle anywhere fails: a half-initialised module is a start-up crash waiting for an import order
to change. The purchase engine never reaches campaigns, POS or tasks."""

import ast

from .graph import ROOT, cycles, import_graph, project_modules


def test_the_walker_sees_a_cycle_and_package_imports():
    graph = {"loyalty.a": {"loyalty.b"}, "loyalty.b": {"loyalty.c"}, "loyalty.c": {"loyalty.a"}}
    graph["loyalty.d"] = {"loyalty.a"}
    assert cycles(graph) == [["loyalty.a", "loyalty.b", "loyalty.c"]]
    real = import_graph()
    # Relative, `from . import x` and package edges are all resolved.
    assert "loyalty.campaigns.selection" in real["loyalty.campaigns.run"]
    assert "loyalty.campaigns.delivery" in real["loyalty.tasks.delivery"]
    assert "loyalty.tasks" in real["loyalty.campaigns.hooks"]


def test_no_import_cycle_inside_loyalty():
    graph = import_graph()
    loyalty = {
        module: {dep for dep in deps if dep.split(".")[0] == "loyalty"}
        for module, deps in graph.items()
        if module.split(".")[0] == "loyalty"
    }
    assert cycles(loyalty) == []


def test_engine_imports_neither_campaigns_nor_pos():
    """The purchase engine and its services announce events (loyalty.events); campaigns and
    POS subscribe at start-up."""
    graph = import_graph()
    seen, todo = set(), [m for m in graph if m.startswith("loyalty.services")]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(dep for dep in graph.get(module, ()) if dep.startswith("loyalty."))
    # The POS adapters' tables are part of loyalty's schema (loyalty.models imports them so
    # Django registers them); reading a model is not depending on an adapter.
    schema = {"loyalty.pos", "loyalty.pos.models"}
    reached = sorted(
        m
        for m in seen - schema
        if m.startswith(("loyalty.campaigns", "loyalty.pos", "loyalty.tasks"))
    )
    assert reached == []


def test_no_except_import_error_around_project_modules():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in project_modules().values()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ExceptHandler)
        and node.type is not None
        and "ImportError" in ast.unparse(node.type)
    ]
    assert offenders == []


def test_no_module_level_import_cycle_anywhere():
    assert cycles(import_graph()) == []
