"""Assertions in the crash helpers are rewritten by pytest, so a failure shows its values."""

import pytest

pytest.register_assert_rewrite("tests.crash.helpers")
