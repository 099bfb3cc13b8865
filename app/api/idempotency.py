"""Idempotency-Key (the API's conventions; invariant 6), for any write a client
may retry: awards now, donations and checkouts later.

`@idempotent` (under `@authenticated`, or on a page's fetch with a logged-in
user): with an Idempotency-Key header, the answer of a successful request is
stored in the request's own transaction, which the request boundary commits
(app/boundary.py); the same user sending the same key and body again gets
that answer again (same status and body) and nothing is done twice. The same key with another body, or while the first request is
still running, is 409 conflict. Refusals (4xx) are not stored: nothing was
written, so a retry simply runs again."""
import hashlib
import json
import re
from datetime import timedelta
from functools import wraps

from flask import current_app, g, make_response, request
from flask_login import current_user
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import IdempotencyKey, utcnow
from app.services.errors import Conflict, ValidationError

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"[\x20-\x7e]{1,200}")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_keys = IdempotencyKey.__table__
_INSERT_KEY = _keys.insert()
_STORED = (select(_keys.c.fingerprint, _keys.c.status, _keys.c.content_type, _keys.c.body)
           .where(_keys.c.user_id == bindparam("user_id"), _keys.c.key == bindparam("key")))
# PostgreSQL: the advisory lock and the stored answer in one round trip.
_CLAIM_AND_READ = text(
    "SELECT pg_try_advisory_xact_lock(:lock), k.fingerprint, k.status, k.content_type, k.body "
    "FROM (SELECT 1) AS one LEFT JOIN idempotency_keys AS k ON k.user_id = :user_id AND k.key = :key")


class KeyInUse(Conflict):
    title = _l("This Idempotency-Key was already used for a different request.")


class KeyRunning(Conflict):
    title = _l("A request with this Idempotency-Key is still running.")


def canonical_request() -> bytes:
    """Method, path, query and body as canonical JSON (files by their SHA-256)."""
    if request.mimetype in FORM_TYPES:
        files = {}
        for name in request.files:
            digests = []
            for upload in request.files.getlist(name):
                digests.append(hashlib.sha256(upload.stream.read()).hexdigest())
                upload.stream.seek(0)
            files[name] = digests
        # A part whose name the form parser cannot read comes with the name None:
        # kept apart, since JSON's sorted keys must all be text.
        body = {"form": {k: request.form.getlist(k) for k in request.form if k is not None},
                "files": {k: v for k, v in files.items() if k is not None},
                "unnamed": [request.form.getlist(None), files.get(None, [])]}
    else:
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = {"raw-sha256": hashlib.sha256(raw).hexdigest()}
    doc = {"method": request.method, "path": request.path,
           "query": {k: request.args.getlist(k) for k in request.args}, "body": body}
    # surrogatepass: a lone surrogate is for the body's parser to refuse (400), not a crash here.
    return json.dumps(doc, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8", "surrogatepass")


def fingerprint() -> str:
    return hashlib.sha256(canonical_request()).hexdigest()


def _lock_id(user_id: int, key: str) -> int:
    digest = hashlib.sha256(f"idempotency:{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _claim_and_read(user_id: int, key: str):
    """Hold the (user, key) lock for this transaction, then read what is stored
    for the key: (fingerprint, status, content type, body), or None.

    PostgreSQL: a transaction-scoped advisory lock, taken and read in one
    round trip, or 409 if the first request still holds it. (A first request
    that commits between this statement's snapshot and its lock is not seen
    here; its key's unique index then stops our insert, and its answer is
    replayed: see the wrapper.) SQLite's write transaction is already exclusive."""
    if db.session.get_bind().dialect.name != "postgresql":
        return _stored(user_id, key)
    got, *stored = db.session.connection().execute(
        _CLAIM_AND_READ, {"lock": _lock_id(user_id, key), "user_id": user_id, "key": key}).one()
    if not got:
        raise KeyRunning()
    return None if stored[0] is None else stored


def _stored(user_id: int, key: str):
    """(fingerprint, status, content type, body) stored for this key, or None."""
    return db.session.connection().execute(_STORED, {"user_id": user_id, "key": key}).first()


def _stored_meanwhile(user_id: int, key: str, fp: str):
    """Before a refusal is answered (PostgreSQL): the first request with this
    key may have committed after our claim's snapshot was taken; if it did,
    its answer (replayed) is the answer, not our refusal. What we wrote is
    rolled back either way."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    db.session.rollback()
    row = _stored(user_id, key)
    if row is None:
        return None
    return _replay(row, fp)


def _replay(stored, fp: str):
    stored_fp, status, content_type, body = stored
    if stored_fp != fp:
        raise KeyInUse()
    response = make_response(body, status)
    response.content_type = content_type
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view):
    """Optional Idempotency-Key replay for a write a client may retry."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_RE.fullmatch(key):
            raise ValidationError({HEADER: [_l("Use 1 to 200 printable ASCII characters.")]})
        user_id = (g.get("user") or current_user).id
        fp = fingerprint()
        row = _claim_and_read(user_id, key)
        if row is not None:
            db.session.rollback()
            return _replay(row, fp)
        try:
            response = make_response(view(*args, **kwargs))
        except Exception:
            replay = _stored_meanwhile(user_id, key, fp)
            if replay is None:
                raise
            return replay
        if not 200 <= response.status_code < 300:
            return _stored_meanwhile(user_id, key, fp) or response
        try:
            db.session.connection().execute(_INSERT_KEY, {
                "user_id": user_id, "key": key, "fingerprint": fp, "status": response.status_code,
                "content_type": response.content_type, "body": response.get_data(as_text=True),
                "created_at": utcnow()})
        except IntegrityError:
            # Someone stored this key first (a race the lock above did not see):
            # our act is rolled back and their answer stands.
            db.session.rollback()
            row = _stored(user_id, key)
            if row is None:
                raise
            return _replay(row, fp)
        return response
    return wrapper


def purge_keys(now=None) -> int:
    """Forget answers older than IDEMPOTENCY_KEEP_HOURS (at least 24 h); the caller commits."""
    hours = max(24, int(current_app.config["IDEMPOTENCY_KEEP_HOURS"]))
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
