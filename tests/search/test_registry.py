"""The backend registry (directory/search/__init__.py): a backend's package is imported only when
that backend is opened, so the write path never loads Whoosh, and one backend never the other."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BACKEND_PACKAGES = {"whoosh": "directory.search.whoosh", "postgres": "directory.search.postgres"}
LOADED = ("import sys, json; print(json.dumps(sorted(m for m in sys.modules if m == 'whoosh' or "
          "m.startswith(('whoosh.', 'directory.search.whoosh', 'directory.search.postgres')))))")


def loaded_after(code: str) -> list[str]:
    """The Whoosh library and backend modules a fresh interpreter holds after running `code`."""
    result = subprocess.run([sys.executable, "-c", f"{code}\n{LOADED}"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("module", ["directory.services.listings", "directory.search.sync", "directory.web"])
def test_the_write_path_and_the_web_layer_load_no_backend(module):
    assert loaded_after(f"import {module}") == []


def test_opening_a_backend_loads_its_package_only(backend, app):
    config = {k: app.config[k] for k in ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY", "SEARCH_BACKEND")}
    loaded = loaded_after(
        "from directory import create_app\n"
        "from directory.search import get_searcher\n"
        f"app = create_app({config!r})\n"
        "get_searcher(app).close()\n"
        "app.extensions['directory.engine'].dispose()"
    )
    mine = BACKEND_PACKAGES[backend]
    other = next(p for name, p in BACKEND_PACKAGES.items() if name != backend)
    assert mine in loaded
    assert not [m for m in loaded if m.startswith(other)]
