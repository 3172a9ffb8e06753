"""IVIG Provider Directory: find IVIG infusion centres and specialists near you, in your network."""

from __future__ import annotations

import os

from flask import Flask

from directory import config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings from the environment (or `test_config`), subsystems, blueprints."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or os.path.join(root, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(root, "templates"),
    )
    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    config.check_production_secret(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.json.sort_keys = False
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # Client addresses (rate limits) and the scheme (secure cookies) as the proxy saw them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    from directory import cli, db, search, verification_cli, web
    from directory.geocoding import cli as geocoding_cli
    from directory.harvest import cli as harvest_cli
    from directory.importers import cli as importers_cli
    from directory.web import api, errors, guide, limits, providers, public, schema_guard, security
    from directory.web import fhir as fhir_api
    from directory.web.staff import auth as staff_auth
    from directory.web.staff import cli as staff_cli
    from directory.web.staff import harvest as staff_harvest
    from directory.web.staff import listings as staff_listings
    from directory.web.staff import roles as staff_roles
    from directory.web.staff import upkeep as staff_upkeep
    from directory.web.staff import views as staff_views

    geocoding_cli.init_app(app)  # refuses an unknown GEOCODER or a bad GEOCODER_* setting
    db.init_app(app)
    schema_guard.init_app(app)  # 503 while the database's schema is not this code's
    search.init_app(app)
    cli.init_app(app)
    verification_cli.init_app(app)
    importers_cli.init_app(app)
    harvest_cli.init_app(app)
    web.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    security.init_app(app)
    staff_auth.init_app(app)
    staff_cli.init_app(app)
    for blueprint in (api.bp, public.bp, providers.bp, guide.bp, staff_views.bp, staff_listings.bp, staff_roles.bp,
                      staff_upkeep.bp, staff_harvest.bp, fhir_api.bp):
        app.register_blueprint(blueprint)
    return app
