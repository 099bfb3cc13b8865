"""The monthly briefing (月度简报) for the township meeting: one A4 PDF per
region and month with the dashboard's figures, the trend of the last twelve
months (drawn with fpdf2's own lines and rectangles), the villages side by
side, how many households need a visit and the fairness flags (for those who
may see them). In Chinese, with the project's CJK font."""
import re
from datetime import date, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from fpdf.fonts import FontFace

from app.models import User
from app.services.checkout.card_images import FONT_PATH
from app.services.clock import local_today
from app.services.errors import Errors
from app.services.people import policy
from app.services.reports import fairness, figures, visits
from app.services.reports.figures import scope_of
from app.services.reports.period import Period, month_of, months_back, next_month

MONTH_RE = re.compile(r"\d{4}-\d{2}")
RED = (200, 16, 46)
GREY = (120, 120, 120)


def month_field(data: dict) -> date:
    """?month=2026-10 (default: this month); not after this month."""
    value = data.get("month")
    this = month_of(local_today())
    if value in (None, ""):
        return this
    errors = Errors()
    try:
        if not isinstance(value, str) or not MONTH_RE.fullmatch(value.strip()):
            raise ValueError
        month = date.fromisoformat(value.strip() + "-01")
    except ValueError:
        errors.add("month", _l("Use a month like 2026-03."))
        errors.raise_if_any()
    if month > this or month.year < 2000:
        errors.add("month", _l("Use a month like 2026-03."))
        errors.raise_if_any()
    return month


def briefing_pdf(actor: User, data: dict) -> tuple[bytes, str]:
    """(PDF bytes, file name) of the month's briefing for the region asked for."""
    scope = scope_of(actor, data)
    month = month_field(data)
    end = min(next_month(month) - timedelta(days=1), local_today())
    rng = Period(month, end)
    region = {"region_id": data.get("region_id")} if data.get("region_id") else {}
    villages = figures.villages(actor, region, rng, redeeming=True)
    summary = figures.summary(actor, region, rng, villages)
    trend = figures.trends(actor, region, Period(months_back(month, 11), end))
    quiet = visits.inactive_count(actor, region)
    flags = fairness.flags(actor, {**region, "from": month.isoformat(), "to": end.isoformat()}) \
        if policy.can(actor, "reports.fairness") else None
    place = scope.region.name if scope.region is not None else (
        actor.region.name if actor.region is not None else "")
    with force_locale("zh_CN"):
        pdf = _draw(place, month, summary, trend, villages, quiet, flags)
    return pdf, f"briefing-{month.strftime('%Y-%m')}.pdf"


def _draw(place, month, summary, trend, villages, quiet, flags) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_font("NotoSansSC", "", str(FONT_PATH))
    pdf.set_auto_page_break(True, margin=15)
    title = _("%(place)s love supermarket points: briefing for %(month)s",
              place=place, month=f"{month.year}年{month.month}月").strip()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("NotoSansSC", size=16)
    pdf.set_text_color(*RED)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("NotoSansSC", size=10)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 6, _("Printed %(day)s", day=local_today().isoformat()),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    rate = summary["participation_rate"]
    tiles = [
        (_("Households"), summary["households"]),
        (_("Participation rate"), "—" if rate is None else f"{100 * rate:.1f}%"),
        (_("Points awarded"), summary["points_awarded"]),
        (_("Points deducted"), summary["points_deducted"]),
        (_("Points redeemed"), summary["points_redeemed"]),
        (_("Checkouts"), summary["checkouts"]),
        (_("Goods in"), summary["goods_in"]),
        (_("Goods out"), summary["goods_out"]),
        (_("Need a visit"), quiet),
    ]
    width, x0 = 60, pdf.l_margin
    y = pdf.get_y()
    for i, (label, value) in enumerate(tiles):
        if i % 3 == 0:
            y = pdf.get_y()
        x = x0 + (i % 3) * (width + 3)
        pdf.set_draw_color(220, 210, 205)
        pdf.rect(x, y, width, 16)
        pdf.set_font("NotoSansSC", size=14)
        pdf.text(x + 3, y + 8, str(value))
        pdf.set_font("NotoSansSC", size=9)
        pdf.set_text_color(*GREY)
        pdf.text(x + 3, y + 13, str(label))
        pdf.set_text_color(0, 0, 0)
        if i % 3 == 2:
            pdf.set_y(y + 19)
    pdf.set_font("NotoSansSC", size=11)
    pdf.multi_cell(0, 7, _("Redeemed since the start: %(households)d households, %(times)d times",
                           households=summary["since_start"]["households_redeeming"],
                           times=summary["since_start"]["checkouts"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _trend_chart(pdf, trend)
    _village_table(pdf, villages)
    if flags is not None:
        pdf.ln(3)
        pdf.set_font("NotoSansSC", size=12)
        pdf.cell(0, 8, _("Fairness checks"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("NotoSansSC", size=9)
        if not flags:
            pdf.multi_cell(0, 6, _("Nothing stands out in this period."), new_x="LMARGIN",
                           new_y="NEXT")
        for flag in flags[:15]:
            note = _(" (explained: %(note)s)", note=flag["explained"]["note"]) if flag["explained"] else ""
            pdf.multi_cell(0, 5.5, "· " + flag["explanation"] + note, new_x="LMARGIN", new_y="NEXT")
        if len(flags) > 15:
            pdf.multi_cell(0, 6, _("%(n)d more on the fairness page.", n=len(flags) - 15),
                           new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _trend_chart(pdf: FPDF, trend: list[dict]) -> None:
    """Points awarded (red) and redeemed (blue) by month, as bars."""
    pdf.set_font("NotoSansSC", size=12)
    pdf.cell(0, 8, _("The last 12 months"), new_x="LMARGIN", new_y="NEXT")
    x0, y0, w, h = pdf.l_margin + 10, pdf.get_y() + 2, 170, 45
    top = max([max(r["points_awarded"], r["points_redeemed"]) for r in trend] + [1])
    pdf.set_draw_color(180, 180, 180)
    pdf.line(x0, y0 + h, x0 + w, y0 + h)
    pdf.set_font("NotoSansSC", size=7)
    pdf.set_text_color(*GREY)
    pdf.text(x0 - 10, y0 + 3, str(top))
    pdf.text(x0 - 4, y0 + h, "0")
    slot = w / max(1, len(trend))
    for i, row in enumerate(trend):
        for j, (key, color) in enumerate((("points_awarded", RED), ("points_redeemed", (46, 134, 193)))):
            bar = h * row[key] / top
            pdf.set_fill_color(*color)
            pdf.rect(x0 + i * slot + 2 + j * (slot - 4) / 2, y0 + h - bar, (slot - 4) / 2, bar, style="F")
        pdf.text(x0 + i * slot + 1, y0 + h + 4, row["month"][2:])
    pdf.set_fill_color(*RED)
    pdf.rect(x0, y0 + h + 7, 3, 3, style="F")
    pdf.text(x0 + 4, y0 + h + 9.5, _("Points awarded"))
    pdf.set_fill_color(46, 134, 193)
    pdf.rect(x0 + 30, y0 + h + 7, 3, 3, style="F")
    pdf.text(x0 + 34, y0 + h + 9.5, _("Points redeemed"))
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(y0 + h + 13)


def _village_table(pdf: FPDF, villages: list[dict]) -> None:
    pdf.set_font("NotoSansSC", size=12)
    pdf.cell(0, 8, _("Villages side by side"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("NotoSansSC", size=8)
    headers = (_("Rank"), _("Village"), _("Households"), _("Participation rate"),
               _("Per household"), _("Points redeemed"), _("Checkouts"))
    pdf.set_fill_color(255, 255, 255)
    # The CJK font has one weight: headings in it too, not bold.
    headings = FontFace(family="NotoSansSC", emphasis="", fill_color=(245, 238, 235))
    with pdf.table(col_widths=(10, 36, 20, 24, 22, 24, 18), text_align="CENTER",
                   line_height=5.5, headings_style=headings) as table:
        table.row([str(h) for h in headers])
        for r in villages:
            rate = r["participation_rate"]
            table.row([str(r["rank"]), r["name"], str(r["households"]),
                       "—" if rate is None else f"{100 * rate:.1f}%",
                       "—" if r["awarded_per_household"] is None else str(r["awarded_per_household"]),
                       str(r["points_redeemed"]), str(r["checkouts"])])
