"""Language choice: Chinese unless the user switched (remembered in a cookie).
The API follows Accept-Language, still defaulting to Chinese."""
from flask import Flask, current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

COOKIE = "lang"
LOGIN_MESSAGE = _l("Please log in to see this page.")


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not request:
        return default
    chosen = request.cookies.get(COOKIE)
    if chosen in languages:
        return chosen
    if request.path.startswith("/api/") and request.accept_languages:
        match = request.accept_languages.best_match(["zh_CN", "zh", "en"])
        if match == "en":
            return "en"
    return default


def init_app(app: Flask) -> None:
    @app.context_processor
    def _language():
        locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        return {"current_lang": locale, "html_lang": "zh-CN" if locale.startswith("zh") else "en"}
