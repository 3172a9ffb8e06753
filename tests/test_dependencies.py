"""Every library the package imports is one it declares: a fresh `pip install .` (the demo's set-up
command) must be enough to load every module of `directory/`. A module that is only there because
the test extra or another library pulled it in once made `./scripts/demo` fail on a fresh clone
(`requests`, imported by the harvest client)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement ("Flask-WTF>=1.2" -> "flask-wtf")."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


def imported_modules() -> dict[str, set[str]]:
    """Top-level third-party module -> the files of `directory/` that import it (anywhere in the file)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "directory").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top != "directory" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_library_is_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(requirement) for requirement in project["dependencies"]}
    distributions = packages_distributions()
    undeclared = {}
    for module, files in imported_modules().items():
        names = {_name(dist) for dist in distributions.get(module, [module])}
        if not names & declared:
            undeclared[module] = sorted(files)
    assert not undeclared, f"imported by directory/ but not in [project] dependencies: {undeclared}"


def test_the_check_sees_the_imports_it_guards():
    # The check would pass vacuously if it found nothing; these are imported today.
    modules = imported_modules()
    assert {"flask", "sqlalchemy", "whoosh", "requests"} <= set(modules)
