"""Request logging that never writes names, phones, search terms or card
secrets: the access log keeps the path without its query string."""
import logging

from flask import Flask, request


class _NoQuery(logging.Filter):
    """Werkzeug's access log prints the request line; drop the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple) and record.args:
            first = record.args[0]
            if isinstance(first, str) and "?" in first:
                method, _, rest = first.partition(" ")
                target, _, proto = rest.partition(" ")
                target = target.split("?", 1)[0]
                record.args = (f"{method} {target} {proto}".strip(),) + record.args[1:]
        return True


def init_app(app: Flask) -> None:
    logging.getLogger("werkzeug").addFilter(_NoQuery())

    @app.after_request
    def _log(response):
        app.logger.debug("%s %s %s", request.method, request.path, response.status_code)
        return response
