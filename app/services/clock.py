"""Local dates: "today", "this month" and an award's day are in the
deployment's time zone (config TIMEZONE, default Asia/Shanghai); times are
stored in UTC."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app

from app.models import utcnow


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(local_zone()).date()


def local_midnight(day: date) -> datetime:
    """The start of a local day, as an aware UTC-comparable datetime."""
    return datetime.combine(day, time(0), tzinfo=local_zone())
