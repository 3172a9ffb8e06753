"""With `CI` set, the PostgreSQL half of the suite must run: an unreachable server fails the run
instead of skipping it; without `CI` the PostgreSQL tests are skipped with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import backends

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
# One test on the shared `postgres_server` fixture, one on tests/test_postgres.py's own database.
PROBES = ("tests/search/test_radius.py::test_data_set_spans_the_country[postgres]",
          "tests/test_postgres.py::test_migrations_build_the_schema_with_its_constraints")


def run_probes(ci: str | None) -> subprocess.CompletedProcess:
    """Two PostgreSQL tests run by pytest against an unreachable server."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TEST_POSTGRES_URL"] = NOWHERE
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PROBES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_without_ci_an_unreachable_server_skips_with_the_reason():
    result = run_probes(ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout
    assert f"no PostgreSQL at TEST_POSTGRES_URL={NOWHERE}" in result.stdout


def test_with_ci_an_unreachable_server_fails_the_run():
    result = run_probes(ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "skipped" not in result.stdout
    assert result.stdout.count(f"no PostgreSQL at TEST_POSTGRES_URL={NOWHERE}") >= 2
    assert "CI is set" in result.stdout


@pytest.mark.parametrize(("ci", "outcome"), [("1", pytest.fail.Exception), ("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception), ("0", pytest.skip.Exception),
                                             ("false", pytest.skip.Exception), (None, pytest.skip.Exception)])
def test_start_postgres_fails_or_skips_by_ci(monkeypatch, ci, outcome):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no PostgreSQL at TEST_POSTGRES_URL"):
        backends.start_postgres(NOWHERE)
