"""The layers keep their direction: web -> services/jobs -> pipeline/storage/queue, never back.

The import rules are read from the source (every ``import``, also inside functions);
what a module loads at run time is checked in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.dynos import ROOT, run_python

APP = ROOT / "app"

#: What the modules under each prefix must never import (module name prefixes).
NEVER = {
    "app.pipeline": ["app.", "flask", "sqlalchemy", "rq", "redis"],
    "app.storage": ["app.web", "app.services", "app.jobs", "app.workers", "app.queue",
                    "app.pipeline", "app.context", "app.extensions", "flask", "rq", "redis"],
    "app.queue": ["app.web", "app.services", "app.jobs", "app.workers", "app.storage",
                  "app.context", "app.extensions", "flask", "sqlalchemy"],
    "app.feed_state": ["app.", "flask", "sqlalchemy", "rq", "redis"],
    "app.config": ["app.", "flask", "sqlalchemy", "rq", "redis"],
    "app.services": ["app.web", "app.jobs", "app.workers", "app.extensions", "flask", "werkzeug"],
    "app.jobs": ["app.web", "app.services", "app.workers", "app.extensions", "flask"],
    "app.context": ["app.web", "app.services", "app.jobs", "app.workers", "flask"],
    "app.workers": ["app.web", "app.services", "app.extensions", "flask"],
    "app.observability": ["app.web", "app.services", "app.jobs", "app.workers", "app.storage"],
}  # fmt: skip
# app.config may import nothing of app but the standard library; app.feed_state only
# app.config, for a type (under TYPE_CHECKING).
ALLOWED = {"app.feed_state": {"app.config"}}
#: What a blueprint may import of app.web: the shared helpers and the presentation modules.
BLUEPRINT_MAY_IMPORT = {"app.web.helpers", "app.web.serializers", "app.web.wording",
                        "app.web.charts", "app.web.sidebar", "app.web.assets"}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports; ``from a import b`` counts as a.b too (b may be one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(path): _imports(path) for path in APP.rglob("*.py")}


def _matches(name: str, prefix: str) -> bool:
    """``name`` is the module ``prefix`` or inside it (``"app."``: anything inside app)."""
    package = prefix.rstrip(".")
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    broken = {
        module: sorted(
            name
            for name in imported
            if any(_matches(name, bad) for bad in NEVER[layer])
            and not _matches(name, module)
            and not any(_matches(name, ok) for ok in ALLOWED.get(layer, ()))
        )
        for module, imported in MODULES.items()
        if _matches(module, layer)
    }
    assert {module: names for module, names in broken.items() if names} == {}


def test_blueprints_import_only_the_shared_helpers_never_each_other() -> None:
    blueprints = [
        _module_name(path)
        for path in (APP / "web").glob("*.py")
        if "Blueprint(" in path.read_text()
    ]
    assert len(blueprints) >= 8
    broken = {
        module: sorted(
            name
            for name in MODULES[module]
            if _matches(name, "app.web")
            and name != "app.web"
            and not any(_matches(name, ok) for ok in BLUEPRINT_MAY_IMPORT)
        )
        for module in blueprints
    }
    assert {module: names for module, names in broken.items() if names} == {}


def _loaded_after(statement: str) -> list[str]:
    code = (
        "import json, sys\n"
        f"{statement}\n"
        "heavy = ('flask', 'sqlalchemy', 'rq', 'redis', 'werkzeug')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    return json.loads(run_python(code))


def test_importing_the_pipeline_loads_neither_flask_sqlalchemy_rq_nor_redis() -> None:
    assert _loaded_after("import app.pipeline") == []


def test_importing_the_package_and_its_config_loads_nothing_heavy() -> None:
    assert _loaded_after("import app, app.config, app.feed_state") == []


def test_the_services_run_without_flask() -> None:
    loaded = _loaded_after(
        "import app.services.submissions, app.services.feeds, app.services.opml_import"
    )
    assert "flask" not in loaded and "werkzeug" not in loaded
