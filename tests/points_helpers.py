"""Helpers for the points tests: rules, awards, photos, and racing HTTP clients."""
import io
from datetime import datetime, timedelta, timezone

from PIL import Image

from app.extensions import db
from app.services.points import awards as points
from app.services.points import rules
from app.services import clock
from tests.live import request_json


def make_rule(code: str, pts: int, *, cap: int | None = None, evidence: bool = False,
              category: str = "测试") -> "rules.Rule":
    rule = rules.create_rule(None, {"code": code, "category": category, "name": f"规则 {code}",
                                    "points": pts, "cap_per_month": cap,
                                    "needs_evidence": evidence})
    db.session.commit()
    return rule


def today(now: datetime | None = None) -> str:
    return clock.local_today(now).isoformat()


def award(world, user: str, households: list[str], code: str, *, now=None, occurred_on=None,
          note=None, evidence=None, commit=True):
    """Award through the service as `user` to the named world households."""
    entries = points.award_points(world.users[user], {
        "household_ids": [world.households[h].id for h in households], "rule_code": code,
        "occurred_on": occurred_on or today(now), "note": note}, evidence, now=now)
    if commit:
        db.session.commit()
    return entries


def at(days: float = 0, *, base: datetime | None = None) -> datetime:
    """A moment `days` from now (UTC)."""
    return (base or datetime.now(timezone.utc)) + timedelta(days=days)


def balance(world, name: str) -> int:
    hh = world.households[name]
    db.session.refresh(hh)
    return hh.balance


def photo(width=3000, height=2000, fmt="JPEG", exif=True) -> bytes:
    """An image with EXIF (camera make and GPS), as a phone would send."""
    img = Image.new("RGB", (width, height), (200, 120, 40))
    out = io.BytesIO()
    if exif and fmt == "JPEG":
        data = Image.Exif()
        data[0x010F] = "SpyCam"            # Make
        data[0x0112] = 1                    # Orientation
        data[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}  # GPS IFD
        img.save(out, fmt, exif=data)
    else:
        img.save(out, fmt)
    return out.getvalue()


def post_json(base: str, path: str, token: str, body: dict, headers: dict | None = None):
    """POST JSON to a live server; (status, parsed body)."""
    return request_json(base, "POST", path, token, body, headers)
