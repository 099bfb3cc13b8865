"""Aixin (爱心超市积分系统): the application factory."""
import os
import secrets
from pathlib import Path

from flask import Flask

from app.config import Defaults
from app.database import SQLiteConnection, normalise_url
from app.extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None, instance_path: str | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Defaults)
    app.config.from_prefixed_env()
    if config:
        app.config.from_mapping(config)
    os.makedirs(app.instance_path, exist_ok=True)
    configure_database(app)
    configure_secret_key(app)
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config["HTTPS"])
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config["HTTPS"])

    register_extensions(app)
    register_blueprints(app)
    register_boundary(app)
    register_errors(app)
    register_policy(app)
    register_cli(app)
    register_logging(app)
    register_proxy(app)
    from app.security import init_app as register_security

    register_security(app)
    return app


def register_proxy(app: Flask) -> None:
    """Trust X-Forwarded-For and -Proto from TRUSTED_PROXIES proxies in front."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def configure_database(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + os.path.join(app.instance_path, "aixin.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_url(uri)
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # A logged database error must not carry the statement's values (names, phones).
    options.setdefault("hide_parameters", True)
    lock_timeout = float(app.config.get("DATABASE_LOCK_TIMEOUT") or 5)
    if uri.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": lock_timeout, "check_same_thread": False,
                                            "factory": SQLiteConnection})
    elif uri.startswith("postgres"):
        # A lock held by another connection (a migration, LOCK TABLE, a long
        # transaction) fails the statement after lock_timeout instead of
        # hanging it; a server that does not answer fails the connection.
        args = dict(options.get("connect_args") or {})
        args.setdefault("connect_timeout", max(1, round(lock_timeout)))
        if "lock_timeout" not in args.get("options", ""):
            args["options"] = (args.get("options", "") + f" -c lock_timeout={int(lock_timeout * 1000)}").strip()
        options["connect_args"] = args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_secret_key(app: Flask) -> None:
    """Generate the key once and keep it in the instance folder. Written to a
    temporary file and hard-linked into place, so several workers starting at
    once all end up with the same key."""
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        tmp = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    app.config["SECRET_KEY"] = path.read_text().strip()


def register_extensions(app: Flask) -> None:
    from app import i18n

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = i18n.LOGIN_MESSAGE
    login_manager.login_message_category = "warning"
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=lambda: app.config["TIMEZONE"],
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    limiter.init_app(app)
    i18n.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.audit import bp as audit_bp
    from app.auth import bp as auth_bp
    from app.counter import bp as counter_bp
    from app.donors import bp as donors_bp
    from app.goods import bp as goods_bp
    from app.households import bp as households_bp
    from app.main import bp as main_bp
    from app.points import bp as points_bp
    from app.public import bp as public_bp
    from app.reports import bp as reports_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(households_bp, url_prefix="/households")
    app.register_blueprint(goods_bp, url_prefix="/goods")
    app.register_blueprint(donors_bp, url_prefix="/giving")
    app.register_blueprint(points_bp, url_prefix="/points")
    app.register_blueprint(reports_bp, url_prefix="/reports")
    app.register_blueprint(public_bp)
    app.register_blueprint(counter_bp, url_prefix="/counter")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)


def register_boundary(app: Flask) -> None:
    """One unit of work per request; due entries posted before anything reads a balance."""
    from app.boundary import init_app

    init_app(app)


def register_policy(app: Flask) -> None:
    """Templates ask the policy, as services and views do: `can(current_user, "checkout.void", c)`."""
    from app.services.people import policy

    app.jinja_env.globals["can"] = policy.can
    app.jinja_env.globals["role_label"] = lambda role: policy.ROLE_LABELS.get(role, role)


def register_errors(app: Flask) -> None:
    from app.errors import init_app

    init_app(app)


def register_cli(app: Flask) -> None:
    from app.cli import init_app

    init_app(app)


def register_logging(app: Flask) -> None:
    from app.logs import init_app

    init_app(app)
