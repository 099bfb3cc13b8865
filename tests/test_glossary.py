"""One glossary (app/data/glossary.csv), and both catalogues keep to it: every
English message naming a term says it in Chinese with the glossary's word, no
Chinese text uses a word the glossary replaces (冲正, 积分规则, 志愿者 ...), and
users can read the glossary itself."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

from app.glossary import terms
from tests.factories import login

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "app" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[-+ #0-9.]*[sdifr]")


def zh_messages():
    with open(ZH, "rb") as f:
        for m in read_po(f):
            if not m.id:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strs = m.string if isinstance(m.string, tuple) else (m.string,)
            yield ids, strs


def test_glossary_is_complete():
    """Every term has its Chinese, English and a meaning in both languages; no term is listed twice."""
    rows = terms()
    assert len(rows) >= 20
    for t in rows:
        assert t.en and t.zh[0] and t.meaning and t.meaning_zh, t
        assert not set(t.avoid) & set(t.zh), t
    assert len({t.en for t in rows}) == len(rows) and len({t.zh[0] for t in rows}) == len(rows)


def test_chinese_catalogue_says_each_term_with_the_glossarys_word():
    """An English message naming a term (a rule, a reversal, an award on notice ...) uses the glossary's
    Chinese word for it."""
    wrong = []
    for ids, strs in zh_messages():
        for t in terms():
            if not t.en_pattern:
                continue
            pattern = re.compile(t.en_pattern, re.I)
            for msgid, msgstr in zip(ids, strs):
                if msgstr and pattern.search(PLACEHOLDER.sub("", msgid)) and not any(z in msgstr for z in t.zh):
                    wrong.append((t.en, msgid, msgstr))
    assert not wrong, "\n".join(f"{en}: {i!r} => {s!r}" for en, i, s in wrong)


def test_no_replaced_word_anywhere():
    """No Chinese text (catalogue, templates, code, scripts, shipped data) uses a word the glossary
    replaces: 冲正 is accounting jargon, 积分规则 drifted from 积分细则, and so on."""
    avoided = {a: t.en for t in terms() for a in t.avoid}
    found = []
    for ids, strs in zh_messages():
        found += [(a, ids[0]) for s in strs for a in avoided if a in s]
    files = [p for folder in ("app", "templates", "static/js") for p in (ROOT / folder).rglob("*")
             if p.suffix in (".py", ".html", ".js", ".csv", ".txt") and p.name != "glossary.csv"
             and "translations" not in p.parts]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8", errors="ignore")
        found += [(a, str(path.relative_to(ROOT))) for a in avoided if a in text]
    assert not found, found


def passbook_row(page: str) -> str:
    return re.search(r'<div class="term">(?:(?!</div>).)*points passbook(?:(?!</div>).)*</div>', page, re.S).group(0)


def test_glossary_page_in_chinese(client, world):
    """A logged-in user reads the glossary, each term Chinese first, with its meaning in Chinese."""
    login(client, "staff_east")
    page = client.get("/glossary").get_data(as_text=True)
    assert "积分细则" in page and "撤销" in page and "帮扶干部" in page
    row = passbook_row(page)
    assert row.index("积分存折") < row.index("points passbook") and "农户自己的积分明细和余额" in row


def test_glossary_page_in_english(client, world):
    """In English the same glossary puts the English term first and explains it in English."""
    client.set_cookie("lang", "en")
    login(client, "staff_east")
    row = passbook_row(client.get("/glossary").get_data(as_text=True))
    assert row.index("points passbook") < row.index("积分存折")
    assert "a household's own record of every entry" in row.replace("&#39;", "'")


def test_glossary_needs_a_login(client):
    assert client.get("/glossary").status_code in (302, 401)
