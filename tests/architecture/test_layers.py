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
explains the floors; docs/extending.md says where a new module goes. The import graph itself is
read by graph.py.
"""

import ast
import re

import pytest

from .graph import every_import, project_modules

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


MODULES = project_modules()
IMPORTS = list(every_import())


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


def test_floors_form_no_cycle():
    """Imports go down or stay on their floor only, so there is no cycle between floors; module
    cycles anywhere are test_imports.py's."""
    edges = {
        (floor_of(module), floor_of(target))
        for module, target, _line, _nested, _context in IMPORTS
        if floor_of(module) != floor_of(target)
    }
    assert all(source > target for source, target in edges)
    assert len(edges) >= 10  # the floors do use each other: the walker sees them


def test_imports_inside_functions_say_why():
    """An import of a project module inside a function has a comment on its lines or just above
    them: why it cannot be at the top (a cycle, the app registry not loaded yet)."""
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


def test_long_modules_say_why_they_are_one():
    """A module over ~400 lines says at the top why it is one idea ("Over 400 lines: …")."""
    silent = []
    for module, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") <= 420:
            continue
        doc = ast.get_docstring(ast.parse(source)) or ""
        if not re.search(r"Over \d+ lines", doc):
            silent.append(module)
    assert silent == []
