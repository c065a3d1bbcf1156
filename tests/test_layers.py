"""The layers hold: imports stand at the top of modules, every row lock goes through the one lock
helper, and no import cycle runs between apps. (`lint-imports` checks the layers themselves;
see `[tool.importlinter]` in pyproject.toml.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
from django.conf import settings

APPS = ("oms", "customers", "billing", "fulfilments", "returns", "orders")
BASE = Path(settings.BASE_DIR)


def app_modules() -> list[Path]:
    """Every Python module of the apps, their migrations aside."""
    return sorted(
        path
        for app in APPS
        for path in (BASE / app).rglob("*.py")
        if "migrations" not in path.relative_to(BASE).parts
    )


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return [alias.name for alias in node.names]


def imports_in_functions(relative: Path, source: str) -> list[str]:
    """Imports inside function bodies that the rule does not allow, as 'file:line module'.

    Allowed: a task importing its own app's services (a service queues the task, so the task
    cannot import it at the top), and `AppConfig.ready`, where Django wants apps' modules
    imported once every app is loaded.
    """
    app = relative.parts[0]
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if relative.name == "apps.py" and function.name == "ready":
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for module in _imported(node):
                if relative.name == "tasks.py" and module.split(".")[0] == app:
                    continue
                found.append(f"{relative}:{node.lineno} {module}")
    return found


def test_imports_stand_at_the_top_of_modules():
    found = [
        line
        for path in app_modules()
        for line in imports_in_functions(path.relative_to(BASE), path.read_text())
    ]
    assert not found, "imports inside functions:\n" + "\n".join(found)


def test_the_rule_notices_an_import_inside_a_function():
    # given a service, and a task, that import inside a function
    source = "def work():\n    from billing import ledger\n    return ledger\n"
    task = "def run():\n    from orders.services import bulk\n    from billing import ledger\n"

    # then the rule names the service's import and the task's import of another app
    assert imports_in_functions(Path("orders/services/x.py"), source) == [
        "orders/services/x.py:2 billing"
    ]
    assert imports_in_functions(Path("orders/tasks.py"), task) == ["orders/tasks.py:3 billing"]


def test_rows_are_locked_only_by_the_lock_helper():
    found = [
        f"{path.relative_to(BASE)}:{number}"
        for path in app_modules()
        if path.relative_to(BASE) != Path("oms/locking.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "select_for_update" in line
    ]
    assert not found, "row locks outside oms.locking:\n" + "\n".join(found)


def module_cycles_between_apps() -> list[list[str]]:
    """Groups of modules that import each other in a circle (strongly connected components of
    the import graph) and belong to more than one app."""
    graph = grimp.build_graph(*APPS, exclude_type_checking_imports=True)
    modules = sorted(m for m in graph.modules if ".migrations" not in m)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, without recursion
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return [g for g in groups if len({m.split(".")[0] for m in g}) > 1]


def test_no_import_cycle_runs_between_apps():
    cycles = module_cycles_between_apps()
    assert not cycles, "\n".join(" <-> ".join(group) for group in cycles)
