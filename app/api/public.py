"""GET /api/v1/public/trace/{public_code}: a donation's trace read from its receipt, no login."""
from app.api import bp
from app.api.schemas.public import PublicTrace
from app.api.spec import endpoint
from app.public.donations import trace_limit
from app.services.goods import public_trace


@bp.get("/public/trace/<public_code>")
@trace_limit()
@endpoint(None, tag="goods", public=True, body=PublicTrace, problems={
    404: "not-found: no donation has this code.",
    429: "rate-limited: more than 30 unknown codes from one client in 15 minutes (only unknown "
         "codes count; then every trace from that client waits)."})
def public_donation_trace(public_code: str):
    """Where a donation's goods went, for anyone holding its receipt: the donor named only with
    their consent, villages where fewer than 3 households redeemed summed into 其他村."""
    return public_trace.public_trace(public_code)
