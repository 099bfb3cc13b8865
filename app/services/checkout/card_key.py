"""The card key: each card's token is kept sealed with it (Fernet, from the
`cryptography` library), so a copied database or backup holds no token and
cannot make cards. Cards are found by a SHA-256 of their token, which needs
no key: a database restored without its key still scans every card; only
printing a card again needs the key.

Where the key lives, first found wins:
- `CARD_KEY` in the config (`FLASK_CARD_KEY` in the environment): one key,
  or several separated by commas, the first sealing new cards;
- the file `CARD_KEY_FILE` (`FLASK_CARD_KEY_FILE`), by default `card.key`
  in the instance folder: one key a line, the first sealing. It is made
  (mode 0600) when the first card is sealed. Several app servers on one
  database must share the key: the environment variable, or one file.

Rotation: put a new key first (keep the old ones after it), run
`flask cards reseal` (every card sealed again with the first key), then
drop the old keys."""
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.services.errors import DomainError

CACHE = "aixin_card_key"


class CardKeyMissing(DomainError):
    """The card's token cannot be unsealed here: no card key, or another one
    (a database restored on a new machine without its key file)."""
    slug = "card-key-missing"
    status = 409
    title = _l("This card cannot be printed again: the card key is missing on this server (was the "
               "database restored without it?). The card still scans; to print a card, issue the "
               "household a new one.")


def token_hash(token: str) -> str:
    """What a card is looked up by: needs no key, reveals nothing of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def key_file() -> Path:
    configured = current_app.config.get("CARD_KEY_FILE")
    return Path(configured) if configured else Path(current_app.instance_path) / "card.key"


def _parse(text: str) -> list[str]:
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [k.strip() for line in lines for k in line.split(",") if k.strip()]


def _load(create: bool) -> MultiFernet | None:
    cached = current_app.extensions.get(CACHE)
    if cached is not None:
        return cached
    configured = current_app.config.get("CARD_KEY")
    if configured:
        keys = _parse(str(configured))
    else:
        path = key_file()
        if not path.exists():
            if not create:
                return None
            _write_new(path)
        keys = _parse(path.read_text())
        if not keys:
            return None
    try:
        sealer = MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        # A mistyped key must be loud; scanning never gets here and keeps working.
        where = "FLASK_CARD_KEY" if configured else str(key_file())
        raise RuntimeError(f"the card key in {where} is not a Fernet key (44 characters of "
                           "URL-safe base64, as Fernet.generate_key() makes)") from None
    current_app.extensions[CACHE] = sealer
    return sealer


def _write_new(path: Path) -> None:
    """A new key, written beside and hard-linked into place: several workers
    starting at once all end up with the one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# Aixin card key: keep it apart from the database's backups. Without it cards still\n"
                "# scan, but cannot be printed again.\n")
        f.write(Fernet.generate_key().decode() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def forget() -> None:
    """Read the key again on next use (after the file or config changed)."""
    current_app.extensions.pop(CACHE, None)


def sealer(create: bool = True) -> MultiFernet:
    """The key to seal with (made on first use unless `create` is false)."""
    found = _load(create)
    if found is None:
        raise CardKeyMissing()
    return found


def seal(token: str, with_key: MultiFernet | None = None) -> str:
    return (with_key or sealer()).encrypt(token.encode()).decode()


def unseal(sealed: str, with_key: MultiFernet | None = None) -> str:
    """The token, or CardKeyMissing when no key here opens it."""
    key = with_key or _load(create=False)
    if key is None:
        raise CardKeyMissing()
    try:
        return key.decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError, TypeError):
        raise CardKeyMissing()


def has_key() -> bool:
    return _load(create=False) is not None
