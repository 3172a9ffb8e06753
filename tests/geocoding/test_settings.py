"""GEOCODER and its settings: off by default, any geopy geocoder by name, and a refusal to start
(naming the setting) on an unknown geocoder or a bad value."""

from __future__ import annotations

import pytest

from directory import create_app
from directory.geocoding import GeocoderOff, geocode_address, get_geocoder, get_settings


def build(tmp_path, **config):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                       "INDEX_DIR": str(tmp_path / "index"), "SECRET_KEY": "test", **config})


def test_off_by_default_and_geocoding_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("GEOCODER", raising=False)
    app = build(tmp_path)
    assert not get_settings(app).enabled
    with pytest.raises(GeocoderOff):
        get_geocoder(app)
    with pytest.raises(GeocoderOff, match="GEOCODER=off"):
        geocode_address(app, "12 Main St, Boston, MA 02115")


@pytest.mark.parametrize("config, name", [
    ({"GEOCODER": "nominatim"}, "nominatim"),
    ({"GEOCODER": "Photon", "GEOCODER_DOMAIN": "photon.internal:2322", "GEOCODER_SCHEME": "http"}, "photon"),
    ({"GEOCODER": "pelias", "GEOCODER_DOMAIN": "pelias.internal:4000", "GEOCODER_API_KEY": "k"}, "pelias"),
    ({"GEOCODER": "geocodeearth", "GEOCODER_API_KEY": "k", "GEOCODER_TIMEOUT": "3"}, "geocodeearth"),
])
def test_geopy_geocoders_by_name(tmp_path, config, name):
    app = build(tmp_path, **config)
    geocoder = get_geocoder(app)
    assert geocoder.name == name
    assert geocoder.geopy.timeout == float(config.get("GEOCODER_TIMEOUT", 10))


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    for key, value in {"GEOCODER": "nominatim", "GEOCODER_DOMAIN": "nominatim.internal:8080",
                       "GEOCODER_SCHEME": "http", "GEOCODER_USER_AGENT": "ivig-test/2",
                       "GEOCODER_MIN_DELAY": "0.5", "GEOCODER_TIMEOUT": "4", "GEOCODER_MAX_DISTANCE_MI": "10"}.items():
        monkeypatch.setenv(key, value)
    settings = get_settings(build(tmp_path))
    assert (settings.name, settings.domain, settings.scheme, settings.user_agent) == (
        "nominatim", "nominatim.internal:8080", "http", "ivig-test/2")
    assert (settings.min_delay, settings.timeout, settings.max_distance_mi) == (0.5, 4.0, 10.0)
    assert get_geocoder(build(tmp_path)).geopy.api == "http://nominatim.internal:8080/search"


@pytest.mark.parametrize("config, message", [
    ({"GEOCODER": "nominatimm"}, "GEOCODER='nominatimm' is not a geocoder geopy knows"),
    ({"GEOCODER": "nominatim", "GEOCODER_SCHEME": "ftp"}, "GEOCODER_SCHEME must be http or https"),
    ({"GEOCODER": "nominatim", "GEOCODER_DOMAIN": "https://nominatim.internal"}, "GEOCODER_DOMAIN is a host and port"),
    ({"GEOCODER": "nominatim", "GEOCODER_MIN_DELAY": "-1"}, "GEOCODER_MIN_DELAY must be at least 0"),
    ({"GEOCODER": "nominatim", "GEOCODER_MIN_DELAY": "soon"}, "GEOCODER_MIN_DELAY must be a number of seconds"),
    ({"GEOCODER": "nominatim", "GEOCODER_TIMEOUT": "0"}, "GEOCODER_TIMEOUT must be more than 0"),
    ({"GEOCODER": "nominatim", "GEOCODER_MAX_DISTANCE_MI": "nan"}, "GEOCODER_MAX_DISTANCE_MI must be more than 0"),
    ({"GEOCODER": "photon", "GEOCODER_API_KEY": "secret"},
     "GEOCODER_API_KEY is set but GEOCODER=photon does not take it"),
    ({"GEOCODER": "pelias"}, "GEOCODER=pelias needs GEOCODER_DOMAIN"),
    ({"GEOCODER": "geocodeearth"}, "GEOCODER=geocodeearth needs GEOCODER_API_KEY"),
    # Checked even while off, so a typo does not wait for the day a geocoder is switched on.
    ({"GEOCODER": "off", "GEOCODER_TIMEOUT": "-3"}, "GEOCODER_TIMEOUT must be more than 0"),
])
def test_bad_settings_refuse_to_start(tmp_path, config, message):
    with pytest.raises(RuntimeError, match="geocoder configuration: ") as refused:
        build(tmp_path, **config)
    assert message in str(refused.value)


def test_geocode_command_without_a_geocoder_says_how_to_set_one(tmp_path):
    app = build(tmp_path)
    result = app.test_cli_runner().invoke(args=["geocode"])
    assert result.exit_code == 1
    assert "no geocoder is configured (GEOCODER=off); set GEOCODER" in result.output
