"""The reports as tables for export: headers in the user's language, one row
per item, every row matching the filters (not one page). The exporter
(app.services.spreadsheets) writes them as CSV or .xlsx."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Region
from app.services.reports import figures


def village_names(ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Region.id, Region.name).where(Region.id.in_(ids))).all())


def _day(value) -> str:
    return value.isoformat() if value is not None else ""


def engagement(rows, categories: list[str] | None = None) -> tuple[list, list[list]]:
    """`rows` a list, or (with every `categories` named) an iterator read once as it is written."""
    if categories is None:
        categories = sorted({c for r in rows for c in r["by_category"]})
    names = dict(db.session.execute(select(Region.id, Region.name)
                                    .where(Region.level == "village")).all())
    columns = [_l("Code"), _l("Head of household"), _l("Village"), _l("Status"), _l("Earned"),
               _l("Deducted"), _l("Redeemed"), _l("Awards"), _l("Last award"),
               _l("Last redemption"), _l("Balance"), *categories]
    return columns, ([r["code"], r["head_name"], names.get(r["village_id"], ""),
                      _l("Active") if r["status"] == "active" else _l("Exited"),
                      r["earned"], r["deducted"], r["redeemed"], r["awards"],
                      _day(r["last_award_on"]), _day(r["last_redeemed_on"]), r["balance"],
                      *[r["by_category"].get(c, 0) for c in categories]] for r in rows)


def engagement_download(actor, data: dict, period, sort: str, fmt: str) -> tuple[tuple, int]:
    """((columns, rows), how many) of every engagement row for a file: a CSV
    streams a thousand households at a time, an .xlsx reads them in one pass."""
    total, rows = figures.engagement_export(actor, data, period, sort=sort, streamed=fmt == "csv")
    return engagement(rows, figures.rule_categories()), total


def villages(rows: list[dict]) -> tuple[list, list[list]]:
    columns = [_l("Rank"), _l("Village"), _l("Households"), _l("Participating"),
               _l("Participation rate"), _l("Points awarded"), _l("Per household"),
               _l("Points deducted"), _l("Points redeemed"), _l("Checkouts")]
    return columns, [[r["rank"], r["name"], r["households"], r["participating_households"],
                      r["participation_rate"], r["points_awarded"], r["awarded_per_household"],
                      r["points_deducted"], r["points_redeemed"], r["checkouts"]] for r in rows]


def trends(rows: list[dict]) -> tuple[list, list[list]]:
    categories = sorted({c for r in rows for c in r["by_category"]})
    columns = [_l("Month"), _l("Points awarded"), _l("Points deducted"), _l("Points redeemed"),
               _l("Checkouts"), _l("Participating"), *categories]
    return columns, [[r["month"], r["points_awarded"], r["points_deducted"], r["points_redeemed"],
                      r["checkouts"], r["participating_households"],
                      *[r["by_category"].get(c, 0) for c in categories]] for r in rows]


def inactive(rows: list[dict]) -> tuple[list, list[list]]:
    names = village_names(r["village_id"] for r in rows)
    columns = [_l("Code"), _l("Head of household"), _l("Village"), _l("Tags"), _l("Registered"),
               _l("Last award"), _l("Last redemption"), _l("Last visit"), _l("Balance")]
    return columns, [[r["code"], r["head_name"], names.get(r["village_id"], ""),
                      "、".join(r["tags"]), _day(r["created_on"]), _day(r["last_award_on"]),
                      _day(r["last_redeemed_on"]), _day(r["last_visit_on"]), r["balance"]]
                     for r in rows]


def fairness(flags: list[dict]) -> tuple[list, list[list]]:
    columns = [_l("Check"), _l("About"), _l("Value"), _l("Threshold"), _l("What was seen"),
               _l("Entries"), _l("Explained")]
    return columns, [[f["kind"], f["subject"]["name"], f["value"], f["threshold"], f["explanation"],
                      f["entry_count"], (f["explained"] or {}).get("note", "")] for f in flags]


def supermarkets(rows: list[dict]) -> tuple[list, list[list]]:
    columns = [_l("Supermarket"), _l("Checkouts"), _l("Households served"), _l("Points redeemed"),
               _l("Units out"), _l("Units in stock"), _l("Stock value (points)"),
               _l("Products low on stock")]
    return columns, [[r["name"], r["checkouts"], r["households"], r["points_redeemed"],
                      r["units_out"], r["units_in_stock"], r["stock_value_points"], r["low_stock"]]
                     for r in rows]


def donations(rows: list[dict]) -> tuple[list, list[list]]:
    columns = [_l("Donor"), _l("Donations"), _l("Units received"), _l("Value of goods (yuan)"),
               _l("Points value of goods"), _l("Money (yuan)"), _l("Units redeemed"),
               _l("Households reached"), _l("Villages reached"),
               _l("Units from this period's gifts"), _l("Points value of this period's gifts"),
               _l("Redeemed so far"), _l("Share redeemed"), _l("Median days to redemption"),
               _l("Written off: expired"), _l("Written off: damaged"), _l("Written off: lost"),
               _l("Written off: count"), _l("Share written off"), _l("Most written off"),
               _l("Suggestion for the donor")]

    def share(value):
        return "" if value is None else round(100 * value, 1)
    return columns, [[r["name"], r["donations"], r["units_in"], r["value_in"], r["points_in"],
                      r["cash_in"], r["units_out"], r["households"], r["villages"],
                      r["given_units"], r["given_points"], r["given_redeemed"],
                      share(r["given_redeemed_share"]),
                      "" if r["median_days"] is None else r["median_days"],
                      r["written_off"]["expired"], r["written_off"]["damaged"],
                      r["written_off"]["lost"], r["written_off"]["count"],
                      share(r["written_off_share"]),
                      "、".join(f"{p['name']} {p['units']}{p['unit']}" for p in r["top_written_off"]),
                      r["suggestion"] or ""] for r in rows]
