"""The thank-you card a donor can share: a PNG (Pillow) and an A4 PDF
(fpdf2), in Chinese, drawn with the project's CJK font. Its words come from
the trace, so it counts households and villages and never names one."""
import io
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from PIL import Image, ImageDraw

from app.models import User
from app.services.checkout.card_images import FONT_PATH, RED, font
from app.services.clock import local_today
from app.services.goods import donations

# A portrait picture a phone shares whole (4:5).
CARD_PX = (1080, 1350)
MAX_ROWS = 6


def _day(iso: str | None) -> str:
    if not iso:
        return ""
    d = date.fromisoformat(iso)
    return _("%(y)d-%(m)d-%(d)d", y=d.year, m=d.month, d=d.day)


def _what(lines: list[dict]) -> str:
    """"200 袋大米 5kg" for one product, "35 件物资" for several."""
    products = {}
    for line in lines:
        name, unit, qty = products.get(line["product_id"], (line["name"], line["unit"], 0))
        products[line["product_id"]] = (name, unit, qty + line["quantity"])
    if len(products) == 1:
        name, unit, qty = next(iter(products.values()))
        return _("%(n)d %(unit)s of %(name)s", n=qty, unit=unit, name=name)
    return _("%(n)d items", n=sum(qty for _name, _unit, qty in products.values()))


def _sentence(trace: dict, what: str) -> str:
    t = trace["totals"]
    if t["quantity"] and t["redeemed"] >= t["quantity"]:
        return _("Your gift of %(what)s has reached %(households)d households in %(villages)d villages.",
                 what=what, households=t["households"], villages=t["villages"])
    if t["redeemed"]:
        return _("Of your gift of %(what)s, %(n)d units have reached %(households)d households in "
                 "%(villages)d villages.", what=what, n=t["redeemed"], households=t["households"],
                 villages=t["villages"])
    return _("Your gift of %(what)s is on the shelves, waiting for the families who need it.",
             what=what)


def _words(trace: dict, *, donor_name: str, supermarkets: list[str], subject: str,
           reference: str) -> dict:
    first, last = trace["totals"]["first_redeemed_on"], trace["totals"]["last_redeemed_on"]
    when = ""
    if first:
        when = _("Handed out from %(first)s to %(last)s", first=_day(first), last=_day(last)) \
            if first != last else _("Handed out on %(day)s", day=_day(first))
    rows = [_("%(name)s: %(given)d %(unit)s given, %(redeemed)d redeemed",
              name=line["name"], given=line["quantity"], unit=line["unit"],
              redeemed=line["redeemed"]) for line in trace["lines"][:MAX_ROWS]]
    if len(trace["lines"]) > MAX_ROWS:
        rows.append(_("and %(n)d more", n=len(trace["lines"]) - MAX_ROWS))
    villages = [v["name"] for v in trace["villages"]]
    return {
        "title": _("Thank you"),
        "greeting": _("Dear %(name)s,", name=donor_name),
        "sentence": _sentence(trace, subject),
        "when": when,
        "where": _("Love supermarket: %(names)s", names="、".join(supermarkets)),
        "rows": rows,
        "villages": _("Villages reached: %(names)s", names="、".join(villages)) if villages else "",
        "footer": _("%(reference)s · made on %(day)s · Aixin love supermarket points system",
                    reference=reference, day=_day(local_today().isoformat())),
    }


def donation_words(actor: User, donation_id) -> dict:
    """The card of one donation (a donor sees only its own: 404 otherwise)."""
    with force_locale("zh_CN"):
        trace = donations.trace_donation(actor, donation_id)
        subject = _what(trace["lines"])
        if trace["kind"] == "cash":
            subject = _("the goods (%(what)s) bought with your %(amount)s yuan",
                        what=subject, amount=f"{trace['amount']:.2f}")
        return _words(trace, donor_name=trace["donor"]["name"],
                      supermarkets=[trace["supermarket"]["name"]], subject=subject,
                      reference=trace["receipt_no"])


def donor_words(actor: User, donor_id) -> dict:
    """The card of all of a donor's giving the user may see."""
    with force_locale("zh_CN"):
        trace = donations.trace_donor(actor, donor_id)
        names = donations.supermarkets_of(actor, trace["id"])
        return _words(trace, donor_name=trace["donor"]["name"], supermarkets=names,
                      subject=_what(trace["lines"]),
                      reference=_("%(n)d donations", n=trace["donations"]))


# -- drawing -------------------------------------------------------------------

def _wrap(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> list[str]:
    """Chinese wraps anywhere: break by character at the width."""
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font(size)) > width and line:
            lines.append(line)
            line = ch.lstrip()
        else:
            line += ch
    return lines + ([line] if line else [])


def card_png(words: dict) -> bytes:
    w, h = CARD_PX
    img = Image.new("RGB", (w, h), (255, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, w, 200], fill=RED)
    draw.text((w // 2, 100), words["title"], font=font(96), fill="white", anchor="mm")
    x, y, width = 80, 260, w - 160
    draw.text((x, y), words["greeting"], font=font(44), fill=(40, 40, 40))
    y += 90
    for line in _wrap(draw, words["sentence"], 60, width):
        draw.text((x, y), line, font=font(60), fill=RED)
        y += 84
    y += 20
    for text, size, colour in ((words["when"], 38, (60, 60, 60)), (words["where"], 38, (60, 60, 60)),
                               (words["villages"], 34, (90, 90, 90))):
        for line in _wrap(draw, text, size, width) if text else []:
            draw.text((x, y), line, font=font(size), fill=colour)
            y += size + 18
    y += 20
    draw.line([x, y, w - x, y], fill=(220, 200, 190), width=3)
    y += 30
    for row in words["rows"]:
        if y > h - 160:
            break
        for line in _wrap(draw, row, 34, width):
            draw.text((x, y), line, font=font(34), fill=(60, 60, 60))
            y += 50
    for i, line in enumerate(_wrap(draw, words["footer"], 26, width)[:2]):
        draw.text((x, h - 100 + i * 36), line, font=font(26), fill=(130, 130, 130))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def card_pdf(words: dict) -> bytes:
    """One A4 page: the same words as real text (searchable, sharp in print)."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font("NotoSansSC", "", str(FONT_PATH))
    pdf.set_title(words["title"])
    pdf.add_page()
    pdf.set_fill_color(*RED)
    pdf.rect(0, 0, 210, 45, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("NotoSansSC", size=36)
    pdf.set_xy(20, 12)
    pdf.cell(170, 20, words["title"], align="C")
    pdf.set_text_color(40, 40, 40)
    pdf.set_font("NotoSansSC", size=14)
    pdf.set_xy(25, 62)
    pdf.multi_cell(160, 8, words["greeting"])
    pdf.ln(6)
    pdf.set_x(25)
    pdf.set_text_color(*RED)
    pdf.set_font("NotoSansSC", size=22)
    pdf.multi_cell(160, 12, words["sentence"], align="L")
    pdf.ln(6)
    pdf.set_text_color(60, 60, 60)
    pdf.set_font("NotoSansSC", size=13)
    for text in (words["when"], words["where"], words["villages"]):
        if text:
            pdf.set_x(25)
            pdf.multi_cell(160, 8, text, align="L")
            pdf.ln(2)
    pdf.ln(4)
    pdf.set_draw_color(220, 200, 190)
    pdf.line(25, pdf.get_y(), 185, pdf.get_y())
    pdf.ln(6)
    pdf.set_font("NotoSansSC", size=12)
    for row in words["rows"]:
        pdf.set_x(25)
        pdf.multi_cell(160, 7, row, align="L")
    pdf.set_text_color(130, 130, 130)
    pdf.set_font("NotoSansSC", size=9)
    pdf.set_xy(25, 270)
    pdf.multi_cell(160, 5, words["footer"])
    return bytes(pdf.output())
