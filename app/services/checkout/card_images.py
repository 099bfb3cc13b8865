"""Card images (Pillow) and printable card sheets (fpdf2), drawn with the
project's own CJK font so rare name characters always show."""
import io
from functools import lru_cache
from pathlib import Path

import qrcode
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from app.models import Card
from app.services.checkout.cards import CardKeyMissing, format_number, qr_payload

FONT_PATH = Path(__file__).resolve().parents[2] / "fonts" / "NotoSansSC-GBK.otf"
# ISO/IEC 7810 ID-1: 85.6 x 54 mm; at 300 dpi.
CARD_MM = (85.6, 54.0)
DPI = 300
CARD_PX = (round(CARD_MM[0] / 25.4 * DPI), round(CARD_MM[1] / 25.4 * DPI))
RED = (200, 16, 46)


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


def qr_image(payload: str, box: int = 10) -> Image.Image:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box, border=4)
    qr.add_data(payload)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def _fit(draw: ImageDraw.ImageDraw, text: str, max_width: int, size: int) -> ImageFont.FreeTypeFont:
    while size > 20 and draw.textlength(text, font=font(size)) > max_width:
        size -= 4
    return font(size)


def card_image(card: Card, *, mark_missing_key: bool = False) -> Image.Image:
    """Cards are for households: always in Chinese, whatever the clerk's language.
    Without the card key: CardKeyMissing, or with `mark_missing_key` (a
    village's sheet) the card drawn without its QR code, marked as needing a
    new card."""
    try:
        payload = qr_payload(card)
    except CardKeyMissing:
        if not mark_missing_key:
            raise
        payload = None
    with force_locale("zh_CN"):
        return _draw_card(card, payload)


def _missing_key_mark(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    """Where the QR code would be: a crossed box saying a new card is needed."""
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=RED, width=6)
    draw.line([x0, y0, x1, y1], fill=(240, 190, 195), width=4)
    draw.line([x0, y1, x1, y0], fill=(240, 190, 195), width=4)
    lines = [_("Card key missing:"), _("cannot be printed again."), _("Issue a new card.")]
    y = (y0 + y1) // 2 - 70
    for line in lines:
        draw.text(((x0 + x1) // 2, y), line, font=_fit(draw, line, x1 - x0 - 30, 40), fill=RED,
                  anchor="mm")
        y += 70


def _draw_card(card: Card, payload: str | None) -> Image.Image:
    w, h = CARD_PX
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    band = 120
    draw.rectangle([0, 0, w, band], fill=RED)
    draw.text((40, band // 2), _("Love Supermarket Points Card"), font=font(60), fill="white", anchor="lm")
    side = h - band - 60
    if payload is None:
        _missing_key_mark(draw, (30, band + 30, 30 + side, band + 30 + side))
    else:
        qr = qr_image(payload).resize((side, side), Image.NEAREST)
        img.paste(qr, (30, band + 30))
    x = 30 + side + 40
    max_w = w - x - 30
    household = card.household
    name_font = _fit(draw, household.head_name, max_w, 96)
    draw.text((x, band + 60), household.head_name, font=name_font, fill="black")
    draw.text((x, band + 200), household.village.name, font=_fit(draw, household.village.name, max_w, 52),
              fill=(60, 60, 60))
    draw.text((x, band + 290), _("Card number"), font=font(34), fill=(110, 110, 110))
    draw.text((x, band + 335), format_number(card.number), font=font(50), fill="black")
    draw.text((x, h - 50), _("Household %(code)s", code=household.code), font=font(30), fill=(110, 110, 110))
    draw.rectangle([0, 0, w - 1, h - 1], outline=(200, 200, 200), width=2)
    return img


def card_png(card: Card) -> bytes:
    buf = io.BytesIO()
    card_image(card).save(buf, format="PNG", dpi=(DPI, DPI))
    return buf.getvalue()


def cards_sheet_pdf(cards: list[Card], title: str) -> bytes:
    """A4 sheets, 2 x 5 cards a page at true size, with cut marks at every corner."""
    with force_locale("zh_CN"):
        return _sheet(cards, title)


def _sheet(cards: list[Card], title: str) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("NotoSansSC", "", str(FONT_PATH))
    pdf.set_title(title)
    cw, ch = CARD_MM
    cols, rows = 2, 5
    gap_x, gap_y = 6.0, 2.0
    left = (210 - cols * cw - (cols - 1) * gap_x) / 2
    top = (297 - rows * ch - (rows - 1) * gap_y) / 2 + 3
    per_page = cols * rows
    if not cards:
        pdf.add_page()
        pdf.set_font("NotoSansSC", size=14)
        pdf.text(20, 30, title)
        pdf.text(20, 42, _("No cards have been issued in this village yet."))
    for start in range(0, len(cards), per_page):
        pdf.add_page()
        pdf.set_font("NotoSansSC", size=9)
        pdf.set_text_color(120, 120, 120)
        page_no = start // per_page + 1
        pages = (len(cards) + per_page - 1) // per_page
        pdf.text(left, top - 6, f"{title}  {page_no}/{pages}")
        pdf.set_draw_color(150, 150, 150)
        pdf.set_line_width(0.2)
        for i, card in enumerate(cards[start:start + per_page]):
            col, row = i % cols, i // cols
            x = left + col * (cw + gap_x)
            y = top + row * (ch + gap_y)
            buf = io.BytesIO()
            card_image(card, mark_missing_key=True).save(buf, format="PNG")
            buf.seek(0)
            pdf.image(buf, x=x, y=y, w=cw, h=ch)
            _cut_marks(pdf, x, y, cw, ch)
    return bytes(pdf.output())


def _cut_marks(pdf: FPDF, x: float, y: float, w: float, h: float, length: float = 3.0) -> None:
    for cx, dx in ((x, -1), (x + w, 1)):
        for cy, dy in ((y, -1), (y + h, 1)):
            pdf.line(cx + dx * 0.8, cy, cx + dx * (0.8 + length), cy)
            pdf.line(cx, cy + dy * 0.8, cx, cy + dy * (0.8 + length))
