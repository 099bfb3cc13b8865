"""Labels and filters the goods pages share, and the low-stock list for the
volunteer's home page."""
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.goods import bp

DONOR_KINDS = {"company": _l("Company"), "person": _l("Individual"),
               "organisation": _l("Organisation")}
REASONS = {"damaged": _l("Damaged"), "expired": _l("Expired"), "lost": _l("Lost"),
           "count": _l("Count difference")}
STOCKTAKE_STATUSES = {"counting": _l("Counting"), "submitted": _l("Waiting for review"),
                      "finalized": _l("Finalized"), "cancelled": _l("Cancelled")}
DIGITS = "零壹贰叁肆伍陆柒捌玖"


def rmb_upper(fen: int) -> str:
    """An amount in Chinese capital numerals, as written on receipts (壹佰贰拾元伍角整)."""
    if fen == 0:
        return "零元整"
    yuan_part, rest = divmod(fen, 100)
    jiao, fen_part = divmod(rest, 10)
    out = ""
    if yuan_part:
        out = _integer_upper(yuan_part) + "元"
    if jiao:
        out += DIGITS[jiao] + "角"
    elif yuan_part and fen_part:
        out += "零"
    if fen_part:
        out += DIGITS[fen_part] + "分"
    if not fen_part:
        out += "整"
    return out


def _integer_upper(n: int) -> str:
    units = ["", "拾", "佰", "仟"]
    groups = ["", "万", "亿", "万亿"]
    parts = []
    group_index = 0
    need_zero = False
    while n:
        n, group = divmod(n, 10_000)
        text = ""
        zero = False
        for i in range(3, -1, -1):
            d = group // 10**i % 10
            if d:
                if zero and text:
                    text += "零"
                text += DIGITS[d] + units[i]
                zero = False
            else:
                zero = True
        if text:
            parts.insert(0, text + groups[group_index] + ("零" if need_zero else ""))
            need_zero = group < 1000
        elif parts:
            need_zero = True
        group_index += 1
    return "".join(parts)


@bp.app_template_filter("yuan")
def yuan_filter(fen) -> str:
    return "" if fen is None else f"{fen / 100:,.2f}"


@bp.app_template_filter("local_time")
def local_time_filter(value) -> str:
    """An aware datetime in the deployment's time zone, minutes precision."""
    if value is None:
        return ""
    from flask_babel import format_datetime

    return format_datetime(value, "yyyy-MM-dd HH:mm")


@bp.app_template_filter("rmb_upper")
def rmb_upper_filter(fen) -> str:
    return "" if fen is None else rmb_upper(int(fen))


@bp.app_context_processor
def _goods_helpers():
    def goods_low_stock(limit: int = 20):
        from app.services.goods.levels import low_stock

        if not current_user.is_authenticated:
            return []
        return low_stock(current_user, limit=limit)

    def goods_expiring():
        from app.services.goods.levels import expiring

        if not current_user.is_authenticated:
            return []
        return expiring(current_user)

    return {"goods_low_stock": goods_low_stock, "goods_expiring": goods_expiring,
            "donor_kinds": DONOR_KINDS,
            "writeoff_reasons": REASONS, "stocktake_statuses": STOCKTAKE_STATUSES}
