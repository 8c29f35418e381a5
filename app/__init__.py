"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import flask_config
from app.ids import IdConverter
from quantgrid.config import Settings


def create_app(config: dict | None = None) -> Flask:
    """Build the web app; ``config`` overrides settings (tests pass theirs)."""
    app = Flask(__name__)
    app.url_map.converters["id"] = IdConverter
    settings = (config or {}).get("QG_SETTINGS") or Settings.from_env()
    app.config.update(flask_config(settings))
    if config:
        app.config.update(config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    if app.config["PROXY_COUNT"] > 0:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    return app


def register_extensions(app: Flask) -> None:
    from app.extensions import backend, csrf, login_manager, security_headers

    csrf.init_app(app)
    login_manager.init_app(app)
    backend.init_app(app)
    security_headers.init_app(app)
    from app import metrics

    metrics.init_app(app, app.config["QG_SETTINGS"])


def register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.auth.views import bp as auth_bp
    from app.backtests.views import bp as backtests_bp
    from app.candles.views import bp as candles_bp
    from app.compare.views import bp as compare_bp
    from app.health import bp as health_bp
    from app.jobs.views import bp as jobs_bp
    from app.strategies.views import bp as strategies_bp
    from app.sweeps.views import bp as sweeps_bp

    for bp in (health_bp, auth_bp, jobs_bp, backtests_bp, sweeps_bp, compare_bp, strategies_bp,
               candles_bp, api_bp):
        app.register_blueprint(bp)


def register_errorhandlers(app: Flask) -> None:
    from app.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from app.commands import commands

    for command in commands:
        app.cli.add_command(command)
