"""A serving process (DIRECTORY_ENV=production) moves what it holds once its searcher is open out of
the cyclic collector's full passes (gc.freeze); a development or test process, which may open many
apps, does not. Each case runs in a fresh interpreter so the test process's collector is untouched."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import gc, sys
from directory import create_app
from directory.cli import init_db
from directory.search import get_searcher
folder, env = sys.argv[1], sys.argv[2]
app = create_app({"DATABASE_URL": f"sqlite:///{folder}/db.sqlite3", "INDEX_DIR": f"{folder}/index",
                  "SECRET_KEY": "a test secret", "ENV": env, "SEARCH_BACKEND": "whoosh"})
with app.app_context():
    init_db()
    before = gc.get_freeze_count()
    get_searcher()
    print(before, gc.get_freeze_count())
"""


@pytest.mark.parametrize(("env", "frozen"), [("production", True), ("development", False)])
def test_the_searcher_opened_in_production_freezes_what_the_process_holds(tmp_path, env, frozen):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), env], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = map(int, done.stdout.split()[-2:])
    assert before == 0
    assert (after > 0) is frozen
