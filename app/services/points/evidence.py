"""Evidence photos for awards: images only, re-encoded (which drops EXIF and
anything hidden in the file), at most EVIDENCE_MAX_SIDE pixels on the longest
side, kept in the instance folder (never under static/) and shown only to
users who can see a household the photo backs."""
import hashlib
import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from app.extensions import db
from app.models import Evidence, Household, LedgerEntry, User, utcnow
from app.services import audit
from app.services.errors import Errors, NotFound
from app.services.people.scope import visible_households
from app.services.validate import as_id

FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
FIELD = "evidence"


@dataclass
class PreparedPhoto:
    data: bytes
    width: int
    height: int


def evidence_root() -> Path:
    return Path(current_app.instance_path) / "evidence"


def prepare_photo(errors: Errors, upload) -> PreparedPhoto | None:
    """Decode an upload (a file-like object or bytes) and re-encode it as a
    clean JPEG; on a non-image add an error and return None."""
    raw = upload if isinstance(upload, bytes) else upload.read()
    if not raw:
        errors.add(FIELD, _l("The photo is empty."))
        return None
    max_side = current_app.config["EVIDENCE_MAX_SIDE"]
    max_pixels = current_app.config["EVIDENCE_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
            if img.format not in FORMATS:
                raise UnidentifiedImageError(img.format)
            if img.width * img.height > max_pixels:
                raise Image.DecompressionBombError("too many pixels")
            img.load()
            # Turn the pixels the way the camera meant before the tag is dropped.
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                img = Image.new("RGB", rgba.size, (255, 255, 255))
                img.paste(rgba, mask=rgba.getchannel("A"))
            else:
                img = img.convert("RGB")
            img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            # A fresh image: no EXIF, XMP, ICC or comments travel with it.
            clean = Image.new("RGB", img.size)
            clean.paste(img)
            out = io.BytesIO()
            clean.save(out, "JPEG", quality=85, optimize=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        errors.add(FIELD, _l("The photo is too large."))
        return None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        errors.add(FIELD, _l("The file is not a photo (JPEG, PNG or WebP)."))
        return None
    return PreparedPhoto(out.getvalue(), clean.width, clean.height)


def store_photo(actor: User, photo: PreparedPhoto) -> Evidence:
    """Write the re-encoded photo into the instance folder and add its row."""
    now = utcnow()
    relative = f"{now:%Y}/{now:%m}/{secrets.token_hex(16)}.jpg"
    target = evidence_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(photo.data)
    os.replace(tmp, target)
    ev = Evidence(path=relative, content_type="image/jpeg", width=photo.width,
                  height=photo.height, size=len(photo.data),
                  sha256=hashlib.sha256(photo.data).hexdigest(),
                  uploaded_by_id=actor.id, created_at=now)
    db.session.add(ev)
    audit.record(actor, "evidence.upload", ev, size=ev.size)
    return ev


def get_evidence(actor: User, evidence_id) -> tuple[Evidence, Path]:
    """A photo and its file, if the user can see a household it backs (else 404)."""
    if not isinstance(evidence_id, int) or as_id(evidence_id) is None:
        raise NotFound()
    ev = db.session.get(Evidence, evidence_id)
    if ev is None:
        raise NotFound()
    visible = visible_households(actor).with_only_columns(Household.id)
    seen = db.session.scalars(
        select(LedgerEntry.id).where(LedgerEntry.evidence_id == ev.id,
                                     LedgerEntry.household_id.in_(visible)).limit(1)
    ).first()
    if seen is None:
        raise NotFound()
    path = evidence_root() / ev.path
    if not path.is_file():
        raise NotFound()
    return ev, path
