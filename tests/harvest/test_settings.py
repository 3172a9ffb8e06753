"""The harvest's manners come from the environment: seconds between requests and the timeout."""

from __future__ import annotations

import pytest

from directory.config import from_environment


def test_harvest_settings_default_and_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HARVEST_MIN_INTERVAL", raising=False)
    monkeypatch.delenv("HARVEST_TIMEOUT", raising=False)
    defaults = from_environment(str(tmp_path))
    assert (defaults["HARVEST_MIN_INTERVAL"], defaults["HARVEST_TIMEOUT"]) == (0.1, 30.0)
    monkeypatch.setenv("HARVEST_MIN_INTERVAL", "1.5")
    monkeypatch.setenv("HARVEST_TIMEOUT", " 12 ")
    settings = from_environment(str(tmp_path))
    assert (settings["HARVEST_MIN_INTERVAL"], settings["HARVEST_TIMEOUT"]) == (1.5, 12.0)


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_wrong_harvest_setting_stops_the_start_with_its_name(tmp_path, monkeypatch, value):
    monkeypatch.setenv("HARVEST_TIMEOUT", value)
    with pytest.raises(RuntimeError, match="HARVEST_TIMEOUT must be a number of seconds"):
        from_environment(str(tmp_path))
