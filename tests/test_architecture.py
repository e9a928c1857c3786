"""The house plan, measured: who may import whom (docs/architecture.md).

Every ``import`` statement of the source tree is read with :mod:`ast` (also the ones
inside functions), so this fails the moment a change adds an arrow the plan does not
allow — before it becomes a loop somebody has to untangle:

- top level: ``contracts`` imports none of the others; ``edge`` and ``gateway`` meet
  only through ``contracts``; ``cloud_api`` stands on the gateway; only ``gridwatch``
  (the composition root) imports everything;
- inside ``gateway``: every part (a package, or a module directly in ``gateway/``) is on
  a floor of :data:`FLOORS`; no part imports one on a higher floor (the exceptions are
  listed in :data:`UPWARD_ALLOWED` with their reason), there are no cycles between
  parts, and a domain package takes from a sibling domain only what the sibling shows
  (:data:`SIBLING_PUBLIC`), never its services.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.support.paths import REPO

TOP_LEVEL_MAY_IMPORT = {
    "contracts": set(),
    "edge": {"contracts"},
    "gateway": {"contracts"},
    "cloud_api": {"contracts", "gateway"},
    "gridwatch": {"contracts", "edge", "gateway", "cloud_api"},
}

# Floors of the gateway, bottom first. A part imports parts on its own floor or below.
FLOORS: dict[str, int] = {
    # 0 foundation: the store's engine and base, settings, process-wide metrics, telemetry
    "store": 0,
    "settings": 0,
    "metrics": 0,
    "telemetry": 0,
    "telemetry_points": 0,
    "telemetry_influx": 0,
    # 1 the site as the gateway knows it, and the outbox every domain publishes through
    "grids": 1,
    "workers": 1,
    "outbound": 1,
    "context": 1,
    # 2 domains: models, queries, pure rules; no flow, no sibling's services
    "cases": 2,
    "dispatch": 2,
    "patrol": 2,
    "sla": 2,
    "escalation": 2,
    "notify": 2,
    "events": 2,
    "evidence": 2,
    "heartbeat": 2,
    "performance": 2,
    "ingest": 2,
    "people": 2,
    "devices": 2,
    "retention": 2,
    "residents": 2,
    "broadcasts": 2,
    # 3 use cases that span domains; the schema (every domain's tables, migrations)
    "flows": 3,
    "schema": 3,
    # 4 the running process: the loop, its timed duties, the supervisor
    "service": 4,
    "duties": 4,
    "processes": 4,
}
DOMAIN_FLOOR = 2
# What a domain package may take from a sibling domain package (modules by name).
SIBLING_PUBLIC = {"models", "schemas", "queries", "lifecycle", "labels", "targets"}
# (importing module, imported part) -> why it is allowed to point upward. Keep it short.
UPWARD_ALLOWED: dict[tuple[str, str], str] = {
    ("gateway.settings", "retention"): "the process's settings gather each part's own settings model",
}
MAX_UPWARD = 3  # "no more than a handful", and each one named above


def _imports(path: Path, module: str) -> list[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                # "from gateway.dispatch import queries" imports the module gateway.dispatch.queries
                names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(top: str) -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / top).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _gateway_part(name: str) -> str:
    return name.split(".")[1]


def _gateway_graph() -> dict[str, dict[str, list[str]]]:
    """part -> imported part -> the modules whose imports make that arrow."""
    modules = _modules("gateway")
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for module, path in modules.items():
        if module == "gateway":
            continue
        for name in _imports(path, module):
            if not name.startswith("gateway.") or name.split(".")[1] == _gateway_part(module):
                continue
            graph[_gateway_part(module)][_gateway_part(name)].append(module)
    return graph


def _cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(graph) | {w for targets in graph.values() for w in targets}):
        if v not in index:
            visit(v)
    return found


def figures() -> dict[str, int]:
    """Parts, arrows, upward arrows and parts caught in cycles (for docs/architecture.md)."""
    graph = _gateway_graph()
    arrows = [(src, dst) for src, targets in graph.items() for dst in targets]
    upward = [(s, d) for s, d in arrows if FLOORS.get(s, 99) < FLOORS.get(d, 99)]
    parts = set(graph) | {d for _, d in arrows}
    return {
        "parts": len(parts),
        "arrows": len(arrows),
        "upward": len(upward),
        "in_cycles": sum(len(c) for c in _cycles(graph)),
    }


def test_top_level_packages_import_only_what_the_plan_allows() -> None:
    wrong = []
    for top, allowed in TOP_LEVEL_MAY_IMPORT.items():
        for module, path in _modules(top).items():
            for name in _imports(path, module):
                other = name.split(".")[0]
                if other in TOP_LEVEL_MAY_IMPORT and other != top and other not in allowed:
                    wrong.append(f"{module} imports {name}")
    assert wrong == [], "\n".join(wrong)


def test_every_gateway_part_has_a_floor() -> None:
    parts = {_gateway_part(m) for m in _modules("gateway") if m != "gateway"}
    missing = sorted(parts - set(FLOORS))
    assert missing == [], (
        f"gateway parts on no floor: {missing}; give each its floor in tests/test_architecture.py "
        "and docs/architecture.md (a domain package is floor 2, a use case goes in gateway/flows/)"
    )


def test_no_import_cycles_between_gateway_parts() -> None:
    graph = _gateway_graph()
    cycles = _cycles(graph)
    detail = [
        f"{src} -> {dst} ({', '.join(sorted(set(graph[src][dst])))})"
        for cycle in cycles
        for src in cycle
        for dst in graph[src]
        if dst in cycle
    ]
    assert cycles == [], f"import cycles between gateway parts {cycles}:\n" + "\n".join(detail)


def test_gateway_parts_import_nothing_above_their_floor() -> None:
    graph = _gateway_graph()
    upward = []
    for src, targets in graph.items():
        for dst, modules in targets.items():
            if FLOORS.get(src, 99) < FLOORS.get(dst, 99):
                upward.extend((module, dst) for module in sorted(set(modules)))
    unexplained = [
        f"{m} imports gateway.{d} (floor {FLOORS.get(d)})" for m, d in upward if (m, d) not in UPWARD_ALLOWED
    ]
    assert unexplained == [], "\n".join(unexplained)
    assert len(upward) <= MAX_UPWARD


def test_domain_packages_take_only_models_and_queries_from_their_siblings() -> None:
    wrong = []
    for module, path in _modules("gateway").items():
        if module == "gateway" or FLOORS.get(_gateway_part(module)) != DOMAIN_FLOOR:
            continue
        for name in _imports(path, module):
            parts = name.split(".")
            if parts[0] != "gateway" or len(parts) < 3 or parts[1] == _gateway_part(module):
                continue
            if FLOORS.get(parts[1]) == DOMAIN_FLOOR and parts[2] not in SIBLING_PUBLIC:
                wrong.append(f"{module} imports {'.'.join(parts[:3])}")
    assert wrong == [], "domain packages reaching into a sibling's services:\n" + "\n".join(
        sorted(set(wrong))
    )


def test_the_measure_sees_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    # The graph builder itself: a module that imports a part above it, making a loop.
    source = tmp_path / "m.py"
    source.write_text("from gateway.flows import dispatch\nimport gateway.cases.models\n")
    assert _imports(source, "gateway.cases.x") == ["gateway.flows.dispatch", "gateway.cases.models"]
    graph = {"cases": {"flows": ["gateway.cases.x"]}, "flows": {"cases": ["gateway.flows.y"]}}
    assert _cycles(graph) == [["cases", "flows"]]  # type: ignore[arg-type]


# ---------------------------------------------------------------- the test suite's own plan
def _test_suite_offences(root: Path) -> list[str]:
    """Imports of test modules or conftests from anywhere in ``root`` (tests/), and imports from
    ``tests`` that do not come from its support package."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for name in _imports(path, module):
            parts = name.split(".")
            if parts[0] != "tests" or len(parts) < 2:
                continue
            if any(p == "conftest" or p.startswith("test_") for p in parts[1:]):
                wrong.append(f"{module} imports {name}: a test module or conftest (move it to tests/support)")
            elif parts[1] != "support":
                wrong.append(f"{module} imports {name}: shared test code lives in tests/support")
    return wrong


def _conftest_offences(root: Path) -> list[str]:
    """Top-level statements of conftests that are not imports, fixtures, hooks or pytest_plugins."""
    wrong = []
    for path in sorted(root.rglob("conftest.py")):
        where = path.relative_to(root.parent)
        for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
            if isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            ):
                continue
            if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["pytest_plugins"]:
                continue
            if isinstance(node, ast.FunctionDef) and (
                node.name.startswith("pytest_")
                or any("fixture" in ast.unparse(d) for d in node.decorator_list)
            ):
                continue
            wrong.append(f"{where}:{node.lineno}: not a fixture (its logic belongs in tests/support)")
    return wrong


def test_no_test_module_imports_another_or_a_conftest() -> None:
    assert _test_suite_offences(REPO / "tests") == []


def test_conftests_only_declare_fixtures() -> None:
    assert _conftest_offences(REPO / "tests") == []


def test_the_suite_check_sees_a_test_module_import_and_logic_in_a_conftest(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    (tests / "web").mkdir(parents=True)
    (tests / "web" / "test_a.py").write_text(
        "from tests.web.test_b import PIXEL\nfrom tests.web.conftest import sign_in\n"
        "from tests.web import kit\nfrom tests.support.web.browser import TOKENS\n"
    )
    (tests / "web" / "conftest.py").write_text(
        "import pytest\n\nPIXEL = 7\n\n\ndef sign_in():\n    pass\n\n\n"
        "@pytest.fixture\ndef page():\n    pass\n"
    )
    assert [w.split(":")[0] for w in _test_suite_offences(tests)] == [
        "tests.web.test_a imports tests.web.test_b.PIXEL",
        "tests.web.test_a imports tests.web.conftest.sign_in",
        "tests.web.test_a imports tests.web.kit",
    ]
    assert [w.split(": ")[0] for w in _conftest_offences(tests)] == [
        "tests/web/conftest.py:3",
        "tests/web/conftest.py:6",
    ]
