"""The access matrix: every route of the app, asked by every role and by an
anonymous visitor, answers as TABLE says, also for objects outside the
user's scope. A route without a row fails the test, and so does a row
without a route.

The table is written by hand from api.md, the JSON API's contract (who may
do what; 401 without a token, 403 for a role not allowed, 404 for an object
outside the user's scope), and from what each page is for. It is never
derived from app/services/people/policy.py, which is what it checks.

One row per (method, rule), the rule as Flask spells it:

    row("GET /api/v1/households/<int:household_id>", "401 ok  ok  ok  ok  403",
                                                     "-   -   404 404 404 -"),
         method, rule [?query]                        in scope    out of scope (optional)

Columns, always in this order: anonymous, admin, cadre, staff, volunteer, donor.
tests/access_world.py builds the users (an admin; a cadre of the east
township; staff of village 东坪村; the volunteer of the east supermarket;
donor A) and two scopes: A (east: 东坪村, the east supermarket, donor A's
donation ...) and B (west: 西沟村, the west supermarket, donor B's ...).
The first string is the answer with every id taken from scope A; the second
(optional) the same request with every id from scope B, "-" for no probe.
A new admin page is one line, `row("GET /admin/backups", ADMIN)`; a page
cadres read for their region and staff may not:
`row("GET /audit?village_id={village_id}", "in ok ok 403 403 403", "- - 404 - - -")`.

Filling a row: `<int:household_id>` and the like are filled by parameter name
from PARAMS (scope A: "household_a"; scope B: "household_b"); a keyword on
the row names another world object (`product_id="spare_product"`; a name
ending in "_a" becomes "_b" out of scope). A query may use the same names in
braces: "?village_id={village_id}". A write goes empty (an empty JSON body
to the API and to the pages' JSON views, an empty form to other pages), so
it stops at validation and changes nothing. `body=lambda o: {...}` sends a
real body, built from `o` (the row's parameters in that scope, and every
world object by name): a write that validates before it looks at the object
needs one to reach the scope check. In scope such a write may really act (a
visit recorded, an objection raised); keep it to acts no other row depends
on. Acts on accounts, regions and products use spare objects of their own.

Answers:
  ok     let through. GET: 2xx after following redirects (a redirect to the
         login page on the way is "in"). A write: 2xx, a redirect not to the
         login page, or a refusal on the merits (400, 409, 410, 422).
         For users of scope A (not the admin) on pages that are not public,
         "ok" also means the answer names nothing of scope B (LEAKS): a list
         filtered to B, or a search that would match B, comes back without it.
  in     sent to the login page (anonymous on a page)
  401 403 404 ...   exactly that status
A 5xx is never expected and always fails. MATRIX_DUMP=1 pytest -s prints
every probe and its answer.

CSRF is off for the matrix as in every test app; one more test here turns
it on and posts to every page write without the token (400 each), beside
tests/views/test_csrf.py. Each role's browser has its own client address, so the
passbook's per-address limit is not reached."""
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from sqlalchemy import create_engine, select, text

from app import create_app
from app.config import HOUSEHOLD_TAGS
from app.extensions import db
from tests.access_world import ROLES, build_access_world
from tests.conftest import PG_URL, base_config
from tests.factories import PASSWORD

# Which world object each URL parameter names in scope A; scope B swaps "_a" for "_b".
PARAMS = {
    "household_id": "household_a", "village_id": "village_a", "region_id": "village_a",
    "supermarket_id": "supermarket_a", "donor_id": "donor_a", "donation_id": "donation_a",
    "public_code": "public_code_a", "checkout_id": "checkout_a", "entry_id": "entry_a",
    "evidence_id": "evidence_a", "pledge_id": "pledge_a", "stocktake_id": "stocktake_a",
    "transfer_id": "transfer_a", "card": "card_a", "barcode": "barcode", "product_id": "product",
    "user_id": "spare_user", "tag_id": "tag", "active": "one", "code": "spare_rule",
    "month": "month", "filename": "static_file",
}


def scope_b(name: str) -> str:
    return name[:-2] + "_b" if name.endswith("_a") else name


@dataclass
class Row:
    method: str
    rule: str
    query: str
    expect: list
    out: list | None
    body: object
    overrides: dict

    @property
    def key(self) -> tuple:
        return self.method, self.rule


def row(spec: str, expect: str, out: str | None = None, *, body=None, **overrides) -> Row:
    method, target = spec.split(" ", 1)
    rule, _, query = target.partition("?")
    expect_, out_ = expect.split(), out.split() if out else None
    assert len(expect_) == len(ROLES) and (out_ is None or len(out_) == len(ROLES)), spec
    return Row(method, rule, query, expect_, out_, body, overrides)


ADMIN = "in  ok  403 403 403 403"        # an admin page
ADMIN_API = "401 ok  403 403 403 403"
ANYONE = "ok  ok  ok  ok  ok  ok"        # a public page or endpoint
LOGGED_IN = "in  ok  ok  ok  ok  ok"
REASON = {"reason": "核实有误"}

# The admin may do what staff, cadres and volunteers do (api.md names the
# everyday role, e.g. "(staff)" for awards; the admin can make any account
# anyway), never what is a donor's own (pledges). A cadre reads its region and
# decides (approve, reject, reverse, finalize a count, void); staff keep their
# villages' register and points; a volunteer works the counter and the stock of
# their supermarket and sees of a household only what the counter needs; a
# donor sees their own giving.
TABLE = [
    # --- API: auth, places, people -----------------------------------------------------------
    row("POST /api/v1/auth/token",                                 ANYONE,
        body=lambda o: {"username": "staff_east", "password": PASSWORD}),  # an account no row changes
    row("DELETE /api/v1/auth/token",                               "401 ok  ok  ok  ok  ok"),
    row("GET /api/v1/openapi.json",                                ANYONE),
    row("GET /api/v1/regions",                                     "401 ok  ok  ok  ok  ok"),
    row("POST /api/v1/regions",                                    ADMIN_API),
    row("PATCH /api/v1/regions/<int:region_id>",                   ADMIN_API, region_id="spare_region"),
    row("GET /api/v1/supermarkets",                                "401 ok  ok  ok  ok  ok"),
    row("POST /api/v1/supermarkets",                               ADMIN_API),
    row("PATCH /api/v1/supermarkets/<int:supermarket_id>",         ADMIN_API, supermarket_id="spare_supermarket"),
    row("POST /api/v1/users",                                      ADMIN_API),
    row("PATCH /api/v1/users/<int:user_id>",                       ADMIN_API),
    row("POST /api/v1/users/<int:user_id>/password-reset",         ADMIN_API),
    row("POST /api/v1/households",                                 "401 ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -",
        body=lambda o: {"village_id": o["village_id"], "head_name": "赵犇"}),
    row("GET /api/v1/households?village_id={village_id}&q=李",      "401 ok  ok  ok  ok  403",
                                                                   "-   -   404 404 404 -"),
    row("GET /api/v1/households/<int:household_id>",               "401 ok  ok  ok  ok  403",
                                                                   "-   -   404 404 404 -"),
    row("PATCH /api/v1/households/<int:household_id>",             "401 ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("GET /api/v1/households/<int:household_id>/ledger",        "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("POST /api/v1/households/<int:household_id>/visits",       "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -",
        body=lambda o: {"visited_on": o["today"], "note": "走访"}),
    # --- API: cards ----------------------------------------------------------------------------
    row("POST /api/v1/households/<int:household_id>/cards",        "401 ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("GET /api/v1/households/<int:household_id>/card.png",      "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("POST /api/v1/villages/<int:village_id>/cards",            "401 ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("GET /api/v1/cards/sheet.pdf?village_id={village_id}",     "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /api/v1/cards/resolve?number={card}",                 "401 ok  ok  ok  ok  403",
                                                                   "-   -   404 404 404 -"),
    row("POST /api/v1/cards/resolve",                              "401 ok  ok  ok  ok  403",
                                                                   "-   -   404 404 404 -",
        body=lambda o: {"number": o["card"]}),
    # --- API: points ---------------------------------------------------------------------------
    row("GET /api/v1/rules",                                       "401 ok  ok  ok  ok  ok"),
    row("POST /api/v1/rules",                                      ADMIN_API),
    row("POST /api/v1/rules/<code>/retire",                        ADMIN_API),
    row("POST /api/v1/awards",                                     "401 ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -",
        body=lambda o: {"household_ids": [o["household_id"]], "rule_code": "MX-1", "occurred_on": o["today"]}),
    row("POST /api/v1/entries/<int:entry_id>/objection",           "401 ok  ok  ok  ok  403",
                                                                   "-   -   404 404 404 -", body=lambda o: REASON),
    row("POST /api/v1/entries/<int:entry_id>/withdraw",            "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -", body=lambda o: REASON),
    row("POST /api/v1/entries/<int:entry_id>/approve",             "401 ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -"),
    row("POST /api/v1/entries/<int:entry_id>/reject",              "401 ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -", body=lambda o: REASON),
    row("POST /api/v1/entries/<int:entry_id>/reverse",             "401 ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -", body=lambda o: REASON),
    row("GET /api/v1/evidence/<int:evidence_id>",                  "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    # --- API: goods, donations, stock ----------------------------------------------------------
    row("GET /api/v1/products",                                    "401 ok  ok  ok  ok  ok"),
    row("POST /api/v1/products",                                   ADMIN_API),
    row("GET /api/v1/products/<int:product_id>",                   "401 ok  ok  ok  ok  ok"),
    row("PATCH /api/v1/products/<int:product_id>",                 ADMIN_API, product_id="spare_product"),
    row("POST /api/v1/products/<int:product_id>/retire",           ADMIN_API, product_id="spare_product"),
    row("POST /api/v1/products/<int:product_id>/reactivate",       ADMIN_API, product_id="spare_product"),
    # Donors are the county's, not a township's: any volunteer may receive from
    # any donor, so B's donor record is no secret to A's volunteer and cadre.
    # A donor's list of donors is their own record.
    row("GET /api/v1/donors",                                      "401 ok  ok  403 ok  ok"),
    row("POST /api/v1/donors",                                     "401 ok  403 403 ok  403"),
    row("GET /api/v1/donors/<int:donor_id>",                       "401 ok  ok  403 ok  ok",
                                                                   "-   -   ok  -   ok  404"),
    # api.md names staff among a donation trace's readers (its public_code), not a donor's.
    row("GET /api/v1/donors/<int:donor_id>/trace",                 "401 ok  ok  403 ok  ok",
                                                                   "-   -   -   -   -   404"),
    row("GET /api/v1/donations",                                   "401 ok  ok  403 ok  ok"),
    row("POST /api/v1/donations",                                  "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"donor_id": o["donor_a"], "supermarket_id": o["supermarket_id"],
                        "lines": [{"product_id": o["product"], "quantity": 1}]}),
    row("GET /api/v1/donations/<int:donation_id>",                 "401 ok  ok  403 ok  ok",
                                                                   "-   -   404 -   404 404"),
    row("GET /api/v1/donations/<int:donation_id>/trace",           "401 ok  ok  ok  ok  ok",
                                                                   "-   -   404 404 404 404"),
    row("POST /api/v1/donations/<int:donation_id>/purchases",      "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -", donation_id="cash_a",
        body=lambda o: {"lines": [{"product_id": o["product"], "quantity": 1, "unit_value": "1.00"}]}),
    row("POST /api/v1/cash-donations",                             "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"donor_id": o["donor_a"], "supermarket_id": o["supermarket_id"], "amount": "10.00"}),
    row("GET /api/v1/supermarkets/<int:supermarket_id>/stock",     "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /api/v1/supermarkets/<int:supermarket_id>/lots",      "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /api/v1/supermarkets/<int:supermarket_id>/needs",     ANYONE, ANYONE),
    row("GET /api/v1/supermarkets/<int:supermarket_id>/stock/writeoffs", "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /api/v1/supermarkets/<int:supermarket_id>/stock/writeoffs", "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"product_id": o["product"], "quantity": 1, "reason": "damaged"}),
    row("GET /api/v1/supermarkets/<int:supermarket_id>/stocktakes", "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /api/v1/supermarkets/<int:supermarket_id>/stocktakes", "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("GET /api/v1/stocktakes/<int:stocktake_id>",               "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /api/v1/stocktakes/<int:stocktake_id>/counts",       "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"counts": [{"product_id": o["product"], "counted": 5}]}),
    row("POST /api/v1/stocktakes/<int:stocktake_id>/submit",       "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("POST /api/v1/stocktakes/<int:stocktake_id>/finalize",     "401 ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -"),
    row("POST /api/v1/stocktakes/<int:stocktake_id>/reopen",       "401 ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -"),
    row("POST /api/v1/stocktakes/<int:stocktake_id>/cancel",       "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /api/v1/supermarkets/<int:supermarket_id>/transfers", "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /api/v1/transfers",                                  "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"from_supermarket_id": o["supermarket_id"], "to_supermarket_id": o["spare_supermarket"],
                        "product_id": o["product"], "quantity": 1}),
    row("GET /api/v1/transfers/<int:transfer_id>",                 "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    # --- API: checkout -------------------------------------------------------------------------
    row("GET /api/v1/checkouts?supermarket_id={supermarket_id}",   "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /api/v1/checkouts",                                  "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"supermarket_id": o["supermarket_id"], "household_id": o["household_id"],
                        "lines": [{"product_id": o["product"], "quantity": 1}]}),
    row("GET /api/v1/checkouts/<int:checkout_id>",                 "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /api/v1/checkouts/<int:checkout_id>/void",           "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -", body=lambda o: REASON),
    # --- API: reports (cadre their region, admin all, staff their villages but not fairness) ---
    row("GET /api/v1/reports/summary?region_id={region_id}",       "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /api/v1/reports/engagement?region_id={region_id}",    "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /api/v1/reports/villages?region_id={region_id}",      "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /api/v1/reports/trends?region_id={region_id}",        "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /api/v1/reports/inactive?region_id={region_id}",      "401 ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /api/v1/reports/fairness?region_id={region_id}",      "401 ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -"),
    row("POST /api/v1/reports/fairness/explanations",              "401 ok  ok  403 403 403"),
    # --- API: the donor's side -----------------------------------------------------------------
    row("GET /api/v1/public/trace/<public_code>",                  ANYONE, ANYONE),
    row("GET /api/v1/pledges",                                     "401 ok  ok  403 ok  ok"),
    row("POST /api/v1/pledges",                                    "401 403 403 403 403 ok"),
    row("POST /api/v1/pledges/<int:pledge_id>/cancel",             "401 403 403 403 403 ok",
                                                                   "-   -   -   -   -   404"),

    # --- pages anyone may open -----------------------------------------------------------------
    row("GET /healthz",                                            ANYONE),
    row("GET /static/<path:filename>",                             ANYONE),
    row("GET /lang/<code>",                                        "in  ok  ok  ok  ok  ok", code="lang"),
    row("GET /login",                                              ANYONE),
    row("POST /login",                                             ANYONE),
    row("GET /notices",                                            ANYONE),
    row("GET /notice/<int:village_id>",                            ANYONE, ANYONE),
    row("GET /notice/<int:village_id>/<month>",                    ANYONE, ANYONE),
    row("GET /markets",                                            ANYONE),
    row("GET /market/<int:supermarket_id>/board",                  ANYONE, ANYONE),
    row("GET /market/<int:supermarket_id>/needs",                  ANYONE, ANYONE),
    row("GET /trace/<public_code>",                                ANYONE, ANYONE),
    row("GET /passbook",                                           ANYONE),
    row("POST /passbook",                                          ANYONE,
        body=lambda o: {"card_number": o["card"], "pin": o["pin"]}),  # a wrong one would count to a limit
    row("POST /passbook/close",                                    ANYONE),

    # --- pages for every logged-in user --------------------------------------------------------
    row("GET /",                                                   LOGGED_IN),
    row("POST /logout",                                            "in  in  in  in  in  in"),  # to the login page
    row("GET /password",                                           LOGGED_IN),
    row("POST /password",                                          LOGGED_IN),
    row("GET /glossary",                                           LOGGED_IN),

    # --- the admin's pages ---------------------------------------------------------------------
    row("GET /admin/regions",                                      ADMIN),
    row("POST /admin/regions",                                     ADMIN),
    row("GET /admin/regions/<int:region_id>",                      ADMIN, region_id="spare_region"),
    row("POST /admin/regions/<int:region_id>",                     ADMIN, region_id="spare_region"),
    row("POST /admin/regions/<int:region_id>/active/<int:active>", ADMIN, region_id="spare_region"),
    row("GET /admin/supermarkets",                                 ADMIN),
    row("POST /admin/supermarkets",                                ADMIN),
    row("GET /admin/supermarkets/<int:supermarket_id>",            ADMIN, supermarket_id="spare_supermarket"),
    row("POST /admin/supermarkets/<int:supermarket_id>",           ADMIN, supermarket_id="spare_supermarket"),
    row("POST /admin/supermarkets/<int:supermarket_id>/active/<int:active>", ADMIN,
        supermarket_id="spare_supermarket"),
    row("GET /admin/tags",                                         ADMIN),
    row("POST /admin/tags",                                        ADMIN),
    row("POST /admin/tags/<int:tag_id>/active/<int:active>",       ADMIN),
    row("GET /admin/users",                                        ADMIN),
    row("POST /admin/users",                                       ADMIN),
    row("GET /admin/users/<int:user_id>",                          ADMIN),
    row("POST /admin/users/<int:user_id>",                         ADMIN),
    row("POST /admin/users/<int:user_id>/active/<int:active>",     ADMIN),
    row("POST /admin/users/<int:user_id>/password-reset",          ADMIN),
    # Privacy: household A is active, so the admin's probe is refused on its merits
    # (a flash, or 422 from the API) and nothing is anonymised.
    row("GET /admin/backups",                                      ADMIN),
    row("GET /admin/privacy",                                      ADMIN),
    row("POST /admin/privacy/<int:household_id>",                  ADMIN),
    row("POST /admin/privacy/all",                                 ADMIN),
    row("POST /api/v1/households/<int:household_id>/anonymise",    ADMIN_API),

    # --- the audit trail (全程留痕): cadres their region, admins all, read-only ------------------
    # Another township's village or household is a field error with no rows for the
    # cadre (as for a code that does not exist), and names nothing of it.
    row("GET /audit/?village_id={village_id}",                     "in  ok  ok  403 403 403",
                                                                  "-   ok  ok  -   -   -"),

    # --- households and cards (staff keep the register, cadres read it) ------------------------
    row("GET /households/?village_id={village_id}",                "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /households/new",                                     "in  ok  403 ok  403 403"),
    row("POST /households/new",                                    "in  ok  403 ok  403 403"),
    row("GET /households/<int:household_id>",                      "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /households/<int:household_id>/edit",                 "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("POST /households/<int:household_id>/edit",                "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("POST /households/<int:household_id>/card",                "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("GET /households/<int:household_id>/card.png",             "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /households/cards?village_id={village_id}",           "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("POST /households/cards?village_id={village_id}",          "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("GET /households/cards.pdf?village_id={village_id}",       "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /households/import",                                  "in  ok  403 ok  403 403"),
    row("POST /households/import",                                 "in  ok  403 ok  403 403"),
    row("POST /households/import/confirm",                         "in  ok  403 ok  403 403"),
    row("POST /households/import/cancel",                          "in  ok  403 ok  403 403"),

    # --- points (staff award, cadres review, the admin keeps the catalogue) --------------------
    row("GET /points/award",                                       "in  ok  403 ok  403 403"),
    row("POST /points/award",                                      "in  ok  403 ok  403 403"),
    row("GET /points/award/households?village_id={village_id}",    "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("POST /points/cards/resolve",                              "401 ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -",
        body=lambda o: {"code": o["card"]}),
    row("GET /points/rules",                                       "in  ok  ok  ok  403 403"),
    row("GET /points/rules/new",                                   ADMIN),
    row("POST /points/rules/new",                                  ADMIN),
    row("GET /points/rules/<code>/edit",                           ADMIN),
    row("POST /points/rules/<code>/edit",                          ADMIN),
    row("POST /points/rules/<code>/retire",                        ADMIN),
    row("GET /points/rules/import",                                ADMIN),
    row("POST /points/rules/import",                               ADMIN),
    row("GET /points/rules/export",                                "in  ok  ok  ok  403 403"),
    # Staff see what awaits a decision in their villages; only cadres decide.
    row("GET /points/review",                                      "in  ok  ok  ok  403 403"),
    row("GET /points/notices",                                     "in  ok  ok  ok  403 403"),
    row("POST /points/entries/<int:entry_id>/objection",           "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -", body=lambda o: REASON),
    row("POST /points/entries/<int:entry_id>/withdraw",            "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -", body=lambda o: REASON),
    row("POST /points/entries/<int:entry_id>/approve",             "in  ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -", body=lambda o: REASON),
    row("POST /points/entries/<int:entry_id>/reject",              "in  ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -", body=lambda o: REASON),
    row("POST /points/entries/<int:entry_id>/reverse",             "in  ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -", body=lambda o: REASON),
    row("GET /points/evidence/<int:evidence_id>",                  "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /points/households/<int:household_id>",               "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("POST /points/households/<int:household_id>/pin",          "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),
    row("POST /points/households/<int:household_id>/pin/clear",    "in  ok  403 ok  403 403",
                                                                   "-   -   -   404 -   -"),

    # --- the counter (volunteers at their supermarket; cadres read its checkouts) --------------
    # The till sends whoever cannot sell to the day's checkouts, which refuse staff and donors.
    row("GET /counter/?supermarket_id={supermarket_id}",           "in  ok  ok  403 ok  403",
                                                                   "-   -   ok  -   404 -"),
    row("POST /counter/api/resolve",                               "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"supermarket_id": o["supermarket_id"], "number": o["card"]}),
    row("POST /counter/api/households",                            "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"supermarket_id": o["supermarket_id"], "q": "李"}),  # only B's household is 李
    row("POST /counter/api/household",                             "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"supermarket_id": o["supermarket_id"], "household_id": o["household_id"]}),
    row("GET /counter/api/product?supermarket_id={supermarket_id}&barcode={barcode}",
                                                                   "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("POST /counter/api/checkouts",                             "401 ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -",
        body=lambda o: {"supermarket_id": o["supermarket_id"], "household_id": o["household_id"],
                        "lines": [{"product_id": o["product"], "quantity": 1}]}),
    row("GET /counter/api/checkouts?supermarket_id={supermarket_id}", "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /counter/api/checkouts/<int:checkout_id>/void",      "401 ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -", body=lambda o: REASON),
    row("GET /counter/checkouts?supermarket_id={supermarket_id}",  "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /counter/checkouts/<int:checkout_id>",                "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),

    # --- goods (volunteers keep stock, the admin the product list, cadres read, donors their own)
    row("GET /goods/",                                             "in  ok  ok  403 ok  ok"),
    row("GET /goods/products",                                     "in  ok  ok  403 ok  403"),
    row("GET /goods/products/new",                                 ADMIN),
    row("POST /goods/products/new",                                ADMIN),
    row("GET /goods/products/<int:product_id>/edit",               ADMIN, product_id="spare_product"),
    row("POST /goods/products/<int:product_id>/edit",              ADMIN, product_id="spare_product"),
    row("POST /goods/products/<int:product_id>/retire",            ADMIN, product_id="spare_product"),
    row("POST /goods/products/load-defaults",                      ADMIN),
    row("GET /goods/products/import",                              ADMIN),
    row("POST /goods/products/import",                             ADMIN),
    row("GET /goods/products/export",                              "in  ok  ok  403 403 403"),
    row("GET /goods/donors",                                       "in  ok  ok  403 ok  ok"),
    row("GET /goods/donors/new",                                   "in  ok  403 403 ok  403"),
    row("POST /goods/donors/new",                                  "in  ok  403 403 ok  403"),
    row("GET /goods/donors/<int:donor_id>",                        "in  ok  ok  403 ok  ok",
                                                                   "-   -   ok  -   ok  404"),
    row("GET /goods/donors/<int:donor_id>/edit",                   "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   ok  -"),
    row("POST /goods/donors/<int:donor_id>/edit",                  "in  ok  403 403 ok  403"),
    row("GET /goods/donations?supermarket_id={supermarket_id}",    "in  ok  ok  403 ok  ok",
                                                                   "-   -   ok  -   ok  ok"),
    row("GET /goods/donations/<int:donation_id>",                  "in  ok  ok  403 ok  ok",
                                                                   "-   -   404 -   404 404"),
    row("GET /goods/donations/<int:donation_id>/receipt",          "in  ok  ok  403 ok  ok",
                                                                   "-   -   404 -   404 404"),
    row("GET /goods/donations/<int:donation_id>/purchase",         "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -", donation_id="cash_a"),
    row("POST /goods/donations/<int:donation_id>/purchase",        "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -", donation_id="cash_a"),
    row("GET /goods/cash",                                         "in  ok  403 403 ok  403"),
    row("POST /goods/cash",                                        "in  ok  403 403 ok  403"),
    row("GET /goods/receive",                                      "in  ok  403 403 ok  403"),
    row("POST /goods/receive",                                     "in  ok  403 403 ok  403"),
    row("GET /goods/supermarket-donors",                           "in  ok  ok  403 ok  403"),
    row("GET /goods/stock/<int:supermarket_id>",                   "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /goods/stock/<int:supermarket_id>/lots",              "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /goods/stock/<int:supermarket_id>/writeoffs",         "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /goods/stock/<int:supermarket_id>/writeoff",          "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("POST /goods/stock/<int:supermarket_id>/writeoff",         "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("GET /goods/stock/<int:supermarket_id>/transfer",          "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("POST /goods/stock/<int:supermarket_id>/transfer",         "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("GET /goods/stock/<int:supermarket_id>/stocktakes",        "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /goods/stock/<int:supermarket_id>/stocktakes",       "in  ok  403 403 ok  403",
                                                                   "-   -   -   -   404 -"),
    row("GET /goods/stocktakes/<int:stocktake_id>",                "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("POST /goods/stocktakes/<int:stocktake_id>",               "in  ok  ok  403 ok  403",
                                                                   "-   -   404 -   404 -"),
    row("GET /goods/pledges",                                      "in  ok  ok  403 ok  ok"),
    row("GET /goods/pledges/new?supermarket_id={supermarket_id}",  "in  403 403 403 403 ok"),
    row("POST /goods/pledges/new?supermarket_id={supermarket_id}", "in  403 403 403 403 ok"),
    row("POST /goods/pledges/<int:pledge_id>/cancel",              "in  403 403 403 403 ok",
                                                                   "-   -   -   -   -   404"),

    # --- a donor's giving (volunteers and cadres open it for donations in their scope) --------
    row("GET /giving/donations/<int:donation_id>",                 "in  ok  ok  403 ok  ok",
                                                                   "-   -   404 -   404 404"),
    row("GET /giving/donations/<int:donation_id>/thanks.png",      "in  ok  ok  403 ok  ok",
                                                                   "-   -   404 -   404 404"),
    row("GET /giving/donations/<int:donation_id>/thanks.pdf",      "in  ok  ok  403 ok  ok",
                                                                   "-   -   404 -   404 404"),
    row("GET /giving/donors/<int:donor_id>/thanks.png",            "in  ok  ok  403 ok  ok",
                                                                   "-   -   -   -   -   404"),
    row("GET /giving/donors/<int:donor_id>/thanks.pdf",            "in  ok  ok  403 ok  ok",
                                                                   "-   -   -   -   -   404"),

    # --- reports (cadres their region, staff their villages but not fairness) ------------------
    row("GET /reports/?region_id={region_id}",                     "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/engagement?region_id={region_id}",           "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/villages?region_id={region_id}",             "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/trends?region_id={region_id}",               "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/inactive?region_id={region_id}",             "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/supermarkets?region_id={region_id}",         "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/donations?region_id={region_id}",            "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("GET /reports/fairness?region_id={region_id}",             "in  ok  ok  403 403 403",
                                                                   "-   -   404 -   -   -"),
    row("POST /reports/fairness/explain",                          "in  ok  ok  403 403 403"),
    row("GET /reports/briefing.pdf?region_id={region_id}",         "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -"),
    row("POST /reports/visits/<int:household_id>",                 "in  ok  ok  ok  403 403",
                                                                   "-   -   404 404 -   -",
        body=lambda o: {"visited_on": o["today"], "note": "走访"}),
]

# No answer to a user of scope A names what is in scope B (the admin sees all;
# public pages show what they show anyone, masked).
LEAKS = ("household_b_name", "household_b_code", "donation_b_receipt")



def fresh_database_url(template_db, folder) -> str:
    """This module's own database, made as conftest's database_url makes a test's."""
    if PG_URL:
        from app.database import normalise_url
        engine = create_engine(normalise_url(PG_URL))
        with engine.begin() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public' "
                                       "AND tablename <> 'alembic_version'")).scalars().all()
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            conn.execute(text("INSERT INTO household_tags (name, active) VALUES (:name, true)"),
                         [{"name": name} for name in HOUSEHOLD_TAGS])
        engine.dispose()
        return PG_URL
    path = folder / "matrix.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@dataclass
class Matrix:
    app: object
    url: str          # the database, for a second app over it
    objects: dict
    usernames: dict
    tokens: dict      # role -> bearer token
    clients: dict     # role -> a browser logged in as that role (None: anonymous)
    api: object       # a client without a session, for the API


def browser(app, n: int):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n}"
    return client


@pytest.fixture(scope="module")
def matrix(template_db, tmp_path_factory):
    """The world, built once; a logged-in browser and a bearer token per role."""
    folder = tmp_path_factory.mktemp("matrix")
    url = fresh_database_url(template_db, folder)
    app = create_app(base_config(url), instance_path=str(folder / "instance"))
    with app.app_context():
        world = build_access_world()
    clients = {}
    for n, role in enumerate(ROLES):
        clients[role] = browser(app, n + 1)
        if role is not None:
            r = clients[role].post("/login", data={"username": world.usernames[role], "password": PASSWORD})
            assert r.status_code == 302, role
    yield Matrix(app, url, world.objects, world.usernames, world.tokens, clients, browser(app, 100))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


RULE_PART = re.compile(r"<(?:\w+:)?(\w+)>")
QUERY_PART = re.compile(r"\{(\w+)\}")


def scoped(r: Row, objects: dict, out: bool) -> dict:
    """The row's parameters in one scope, beside every world object by name."""
    names = {**PARAMS, **r.overrides}
    if out:
        names = {k: scope_b(v) for k, v in names.items()}
    return {**objects, **{param: objects[name] for param, name in names.items()}}


def fill(r: Row, o: dict) -> str:
    path = RULE_PART.sub(lambda m: str(o[m.group(1)]), r.rule)
    query = QUERY_PART.sub(lambda m: str(o[m.group(1)]), r.query)
    return path + ("?" + query if query else "")


# Acts that end the session or the token they are sent with: each gets its own.
SELF_ENDING = {("POST", "/logout"), ("DELETE", "/api/v1/auth/token")}


def own_login(m: Matrix, role):
    """A browser and a token of their own, for an act that ends them."""
    from app.models import User
    from app.services.people.accounts import issue_token
    with m.app.app_context():
        user = db.session.scalars(select(User).where(User.username == m.usernames[role])).one()
        token, _ = issue_token(user)
        db.session.commit()
    client = browser(m.app, 200)
    client.post("/login", data={"username": m.usernames[role], "password": PASSWORD})
    return client, token


def speaks_json(app, method: str, path: str) -> bool:
    """The API, and the pages' fetches (json views), take a JSON body; other pages a form."""
    if path.startswith("/api/"):
        return True
    endpoint, _ = app.url_map.bind("localhost").match(path, method=method)
    return getattr(app.view_functions[endpoint], "aixin_json", False)


def ask(m: Matrix, r: Row, url: str, role, body):
    """One request as `role`: the API with the role's bearer token, pages in the role's browser."""
    path = url.partition("?")[0]
    is_api = path.startswith("/api/")
    client, token = (m.api if is_api else m.clients[role]), m.tokens.get(role)
    if role is not None and r.key in SELF_ENDING:
        client, token = own_login(m, role)
        if is_api:
            client = browser(m.app, 100)
    headers = {"Authorization": f"Bearer {token}"} if is_api and role is not None else {}
    kwargs = {}
    if r.method != "GET":
        if speaks_json(m.app, r.method, path):
            kwargs["json"] = body if body is not None else {}
        else:
            kwargs["data"] = body if body is not None else {}
    return client.open(url, method=r.method, headers=headers, follow_redirects=r.method == "GET", **kwargs)


def to_login(response) -> bool:
    return 300 <= response.status_code < 400 and urlparse(response.headers.get("Location", "")).path == "/login"


def outcome(method: str, response) -> str:
    """The answer as the table spells it."""
    if to_login(response) or any(to_login(h) for h in getattr(response, "history", ())):
        return "in"
    s = response.status_code
    if 200 <= s < 300:
        return "ok"
    if method != "GET" and (300 <= s < 400 or s in (400, 409, 410, 422)):
        return "ok"
    return str(s)


def probes(m: Matrix):
    """Every (row, role, url, body, expected, scope) the table asks for."""
    for r in TABLE:
        for out, column in ((False, r.expect), (True, r.out or ())):
            o = scoped(r, m.objects, out)
            url, body = fill(r, o), r.body(o) if r.body else None
            for role, want in zip(ROLES, column):
                if want != "-":
                    yield r, role, url, body, want, out


def routes(app) -> set:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def table_problems(have: set) -> list[str]:
    """What is wrong between the app's (method, rule) pairs and TABLE, one line each."""
    keys = [r.key for r in TABLE]
    twice = sorted({k for k in keys if keys.count(k) > 1}, key=lambda k: (k[1], k[0]))
    missing = sorted(have - set(keys), key=lambda k: (k[1], k[0]))
    stale = sorted(set(keys) - have, key=lambda k: (k[1], k[0]))
    return ([f"row given twice: {m} {p}" for m, p in twice]
            + [f'add a row for {m} {p}: row("{m} {p}", "anonymous admin cadre staff volunteer donor"), '
               f"each word the answer that role should get" for m, p in missing]
            + [f"row for a route the app does not have (remove or correct it): {m} {p}" for m, p in stale])


def test_every_route_has_exactly_one_row(matrix):
    """Each (method, route) of the app has one row in TABLE, and each row names a route the app has."""
    problems = table_problems(routes(matrix.app))
    assert not problems, "TABLE in tests/test_access_matrix.py does not match the app's routes:\n  " + \
        "\n  ".join(problems)


def test_a_new_route_without_a_row_is_named(matrix):
    """A route added to the app without a row is reported by method and path (and a gone one as stale)."""
    have = routes(matrix.app) | {("POST", "/api/v1/matrix-probe/<int:household_id>")}
    assert table_problems(have) == [
        'add a row for POST /api/v1/matrix-probe/<int:household_id>: '
        'row("POST /api/v1/matrix-probe/<int:household_id>", "anonymous admin cadre staff volunteer donor"), '
        "each word the answer that role should get"]
    assert table_problems(routes(matrix.app) - {("GET", "/glossary")}) == [
        "row for a route the app does not have (remove or correct it): GET /glossary"]


DUMP = os.environ.get("MATRIX_DUMP")  # MATRIX_DUMP=1 pytest -s: every probe and its answer


def test_access_matrix(matrix):
    """Every route answers every role (and anonymous) as TABLE says, in scope and out of it, never a 5xx."""
    started = time.perf_counter()
    wrong, counts = [], [0, 0]
    leaks = [str(matrix.objects[name]) for name in LEAKS]
    for r, role, url, body, want, out in probes(matrix):
        response = ask(matrix, r, url, role, body)
        got = outcome(r.method, response)
        if got == "ok" and role not in (None, "admin") and r.expect[0] != "ok":
            data = response.get_data()
            named = [word for word in leaks
                     if word.encode() in data or json.dumps(word)[1:-1].encode() in data]  # JSON may escape
            if named:
                got = f"ok but names {', '.join(named)}"
        response.close()
        counts[out] += 1
        where = "out of scope" if out else "in scope"
        if got != want:
            wrong.append(f"  {r.method} {url} as {role or 'anonymous'} ({where}): "
                         f"got {got} ({response.status_code}), table says {want}")
        if DUMP:
            print(f"DUMP {where[:3]} {role or 'anon':9} {r.method:6} {url} {response.status_code} "
                  f"{got} {want} {'' if got == want else '<<<'}")
    seconds = time.perf_counter() - started
    print(f"\naccess matrix: {len(TABLE)} routes x {len(ROLES)} roles = {counts[0]} pairs, "
          f"{counts[1]} out-of-scope probes, {seconds:.1f} s")
    assert not wrong, f"{len(wrong)} answers differ from the table:\n" + "\n".join(wrong)


def test_staff_reach_only_their_own_village(matrix):
    """Staff of 东坪村 get 404 for the household and village next door (石门村, same township) on
    every route that lets them into their own; the township's cadre is let into both."""
    wrong, checked = [], 0
    for r in TABLE:
        names = set(RULE_PART.findall(r.rule)) | set(QUERY_PART.findall(r.query))
        if r.expect[3] != "ok" or r.expect[0] == "ok" or not names & {"household_id", "village_id", "region_id"}:
            continue
        o = {**scoped(r, matrix.objects, False), "household_id": matrix.objects["household_n"],
             "village_id": matrix.objects["village_n"], "region_id": matrix.objects["village_n"]}
        url = fill(r, o)
        for role, want in (("staff", "404"), ("cadre", r.expect[2])):
            response = ask(matrix, r, url, role, r.body(o) if r.body else None)
            got = outcome(r.method, response)
            checked += 1
            if got != want:
                wrong.append(f"{r.method} {url} as {role}: got {got} ({response.status_code}), want {want}")
            response.close()
    print(f"\nthe village next door: {checked} probes")
    assert checked > 40 and not wrong, "\n".join(wrong)


def test_leak_markers_are_on_scope_b_pages(matrix):
    """What the out-of-scope probes look for is really on B's pages, so a leak would be seen."""
    admin = matrix.clients["admin"]
    o = matrix.objects
    page = admin.get(f"/households/{o['household_b']}").get_data(as_text=True)
    assert o["household_b_name"] in page and o["household_b_code"] in page
    assert o["donation_b_receipt"] in admin.get(f"/goods/donations/{o['donation_b']}").get_data(as_text=True)
    api = matrix.api.get(f"/api/v1/households/{o['household_b']}",
                         headers={"Authorization": f"Bearer {matrix.tokens['admin']}"})
    assert json.dumps(o["household_b_name"])[1:-1].encode() in api.get_data()


def test_api_ignores_the_page_session(matrix):
    """The admin's logged-in browser opens no API endpoint with its session cookie: without a bearer token, 401."""
    wrong, admin = [], matrix.clients["admin"]
    for r in TABLE:
        if not r.rule.startswith("/api/") or r.expect[0] != "401":
            continue
        url = fill(r, scoped(r, matrix.objects, False))
        response = admin.open(url, method=r.method, json={} if r.method != "GET" else None)
        if response.status_code != 401:
            wrong.append(f"{r.method} {url} with the admin's session: {response.status_code}")
        response.close()
    assert not wrong, "\n".join(wrong)


def test_every_form_refuses_a_post_without_its_csrf_token(matrix):
    """With CSRF protection on, as in production, every write to a page (forms and the pages'
    JSON fetches alike) without the page's token is refused with 400; the API takes none."""
    app = create_app(base_config(matrix.url, WTF_CSRF_ENABLED=True),
                     instance_path=str(matrix.app.instance_path))
    client = browser(app, 300)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    assert client.post("/login", data={"username": matrix.usernames["admin"], "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    wrong, checked = [], 0
    for r in TABLE:
        if r.method == "GET" or r.rule.startswith("/api/") or r.key == ("POST", "/logout"):
            continue
        o = scoped(r, matrix.objects, False)
        body = r.body(o) if r.body else {}
        url = fill(r, o)
        json_ = speaks_json(app, r.method, url.partition("?")[0])
        response = client.open(url, method=r.method, **({"json": body} if json_ else {"data": body}))
        checked += 1
        if response.status_code != 400:
            wrong.append(f"{r.method} {url}: {response.status_code}")
        response.close()
    assert client.post("/logout").status_code == 400  # the session is still there: it was never a forgery's
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert checked > 50 and not wrong, "writes taken without a CSRF token:\n" + "\n".join(wrong)
