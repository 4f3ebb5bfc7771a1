"""The project's import graph, read from the source (no import is executed).

Module-level imports (the module body and its if/try/with/class blocks, not function bodies) are
the edges of `import_graph`; importing `a.b.c` also runs the packages `a` and `a.b`, so they are
edges too (except a module's own parent packages, which Python has already started).
`every_import` lists every import statement of a project module, functions included, with its
line and the lines just above it (for the comment that says why an import sits in a function)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "onboarding", "crm", "loyalty", "cards", "reports", "demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:
                continue
            modules[_module_name(path)] = path
    return modules


def _module_level_imports(tree: ast.Module):
    """Import statements executed when the module is imported: the module body and the
    bodies of its if/try/with/class blocks — not function bodies (run later, if ever)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.For | ast.While | ast.With | ast.ClassDef):
            stack.extend(node.body)
            stack.extend(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            stack.extend(node.body)
            stack.extend(node.orelse)
            stack.extend(node.finalbody)
            for handler in node.handlers:
                stack.extend(handler.body)


def _targets(module: str, is_package: bool, node, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module
    # `from package import submodule` imports the submodule.
    return [target] + [
        f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules
    ]


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        deps = set()
        for node in _module_level_imports(tree):
            for target in _targets(module, path.name == "__init__.py", node, modules):
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    name = ".".join(parts[:end])
                    own_package = module == name or module.startswith(name + ".")
                    if name in modules and not own_package:
                        deps.add(name)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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


def every_import():
    """(importer, imported module, line, inside a function, source lines from three above the
    statement to its end) for every import of a project module."""
    modules = project_modules()
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source, filename=str(path))
        nested = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                nested.update(id(n) for n in ast.walk(node) if n is not node)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            context = lines[max(node.lineno - 4, 0) : node.end_lineno]
            targets = _targets(module, path.name == "__init__.py", node, modules)
            if isinstance(node, ast.ImportFrom) and len(targets) == len(node.names) + 1:
                targets = targets[1:]  # `from package import a, b` names only submodules
            for target in dict.fromkeys(targets):
                if target.split(".")[0] in APPS and target != module:
                    yield module, target, node.lineno, id(node) in nested, context
