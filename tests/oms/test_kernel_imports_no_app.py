"""The kernel imports no app: the apps fill its registries, never the other way round.

Every module under oms/ (its migrations aside) is parsed, and any import of an app's module,
at the top or inside a function, is named with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

KERNEL = Path(settings.BASE_DIR) / "oms"


def project_apps() -> set[str]:
    """The top-level packages of the project's own apps, the kernel aside."""
    base = Path(settings.BASE_DIR).resolve()
    return {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base)
        and "site-packages" not in Path(config.path).parts  # a virtualenv inside the project
        and config.name != "oms"
    }


def app_imports(source: str, app_names: set[str]) -> list[tuple[int, str]]:
    """(line, module) of each import of one of the apps in `source`, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif (
            isinstance(node, ast.Call)
            and (
                (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules = [node.args[0].value]
        else:
            continue
        found += [(node.lineno, m) for m in modules if m.split(".")[0] in app_names]
    return sorted(found)


def kernel_modules() -> list[Path]:
    return sorted(
        path for path in KERNEL.rglob("*.py") if "migrations" not in path.relative_to(KERNEL).parts
    )


def test_the_apps_are_known():
    assert {"customers", "billing", "fulfilments", "returns", "orders"} <= project_apps()


def test_an_import_of_an_app_is_found_at_the_top_and_inside_a_function():
    source = (
        "import orders.models\n"
        "from oms.models import Retailer\n"
        "def f():\n"
        "    from returns.services import return_config_ensure_defaults\n"
        "    import importlib\n"
        "    return importlib.import_module('billing.models')\n"
    )
    assert app_imports(source, project_apps()) == [
        (1, "orders.models"),
        (4, "returns.services"),
        (6, "billing.models"),
    ]


def test_no_kernel_module_imports_an_app():
    app_names = project_apps()
    modules = kernel_modules()
    assert KERNEL / "views.py" in modules and KERNEL / "templatetags" / "money.py" in modules
    offences = [
        f"{path.relative_to(KERNEL.parent)}:{line} imports {module}"
        for path in modules
        for line, module in app_imports(path.read_text(), app_names)
    ]
    assert not offences, "The kernel imports apps:\n" + "\n".join(offences)
