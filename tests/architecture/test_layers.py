"""The layering contract: one direction between the apps, no import cycles, and no import of a
project module inside a function unless a comment says why.

Floors, bottom to top (a module may import its own floor and any floor below it):

    tenancy      merchants, branches, staff, roles, access, money and time helpers
                 (the modules of `onboarding` listed in TENANCY, and `config`'s leaf modules)
    crm          clients, the import and export of the client base
    loyalty      the program, the engine, the ledger, campaigns, POS, cards
    onboarding   the onboarding workflow and staff: checklists and their facts, training,
                 attestation, the staff bonus, the hub
    reports      metrics, the dashboard, the case study
    top          `demo` (the reference merchants and seeded histories) and `config`'s
                 composition (settings, URLs, Celery)

A module's floor is given by the longest prefix below that names it. docs/development.md
explains the floors; docs/extending.md says where a new module goes.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["config", "onboarding", "crm", "loyalty", "cards", "reports", "demo"]

# The ground floor inside `onboarding`: what every app may import.
TENANCY = [
    "onboarding.access",
    "onboarding.admin_base",
    "onboarding.admin_pages",
    "onboarding.admin_present",
    "onboarding.apps",
    "onboarding.localtime",
    "onboarding.middleware",
    "onboarding.models",
    "onboarding.money",
    "onboarding.nouns",
    "onboarding.params",
    "onboarding.pos_identity",
    "onboarding.roles",
    "onboarding.signals",
    "onboarding.templatetags",
    "onboarding.tokens",
    "config.client_ip",
    "config.csp",
    "config.secret_key",
]

FLOORS = [
    ("tenancy", TENANCY),
    ("crm", ["crm"]),
    ("loyalty", ["loyalty", "cards"]),
    ("onboarding", ["onboarding"]),
    ("reports", ["reports"]),
    ("top", ["demo", "config"]),
]


def floor_of(module: str) -> int:
    best, best_len = None, -1
    for index, (_name, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} has no floor: add it to FLOORS"
    return best


def _module_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            yield ".".join(parts), path, is_package


MODULES = {name: (path, is_package) for name, path, is_package in _module_files()}


def _project(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Every project module an import statement names (`from pkg import mod` names pkg.mod)."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        names.append(sub if sub in MODULES else target)
    return names


def _imports():
    """(importer, imported, line, inside a function, source line and the one before it)."""
    for module, (path, is_package) in MODULES.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        nested = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested.update(id(n) for n in ast.walk(node) if n is not node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(module, is_package, node)
            else:
                continue
            context = lines[max(node.lineno - 2, 0) : node.end_lineno]
            for target in targets:
                if _project(target) and target != module:
                    yield module, target, node.lineno, id(node) in nested, context


IMPORTS = list(_imports())


def test_every_module_has_a_floor():
    for module in MODULES:
        floor_of(module)


def test_no_app_imports_a_floor_above_its_own():
    upward = [
        f"{module}:{line} ({FLOORS[floor_of(module)][0]}) imports {target} "
        f"({FLOORS[floor_of(target)][0]})"
        for module, target, line, _nested, _context in IMPORTS
        if floor_of(target) > floor_of(module)
    ]
    assert upward == []


def test_no_import_cycles():
    """Module-level imports form no cycle, between apps or inside one (Tarjan's SCCs)."""
    graph = defaultdict(set)
    for module, target, _line, nested, _context in IMPORTS:
        if not nested and target in MODULES:
            graph[module].add(target)
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in list(MODULES):
        if node not in index:
            visit(node)
    # A package's __init__ importing its own submodules (to re-export them) is not a cycle of
    # dependencies; leave those pairs out.
    real = [
        c
        for c in cycles
        if not all(m == c[0] or m.startswith(c[0] + ".") for m in c) or len(c) > 2
    ]
    assert real == []


def test_imports_inside_functions_say_why():
    """An import of a project module inside a function has a comment on its line or the line
    before: why it cannot be at the top (a cycle, a heavy module loaded only when needed)."""
    silent = [
        f"{module}:{line} imports {target}"
        for module, target, line, nested, context in IMPORTS
        if nested and not any("#" in text for text in context)
    ]
    assert silent == []


@pytest.mark.parametrize(
    ("module", "floor"),
    [
        ("onboarding.models", "tenancy"),
        ("onboarding.money", "tenancy"),
        ("crm.importing.writer", "crm"),
        ("cards.views", "loyalty"),
        ("onboarding.facts", "onboarding"),
        ("reports.metrics", "reports"),
        ("demo.seeding", "top"),
        ("config.urls", "top"),
    ],
)
def test_floors_are_as_documented(module, floor):
    assert FLOORS[floor_of(module)][0] == floor
