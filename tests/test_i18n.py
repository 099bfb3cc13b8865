"""Chinese first: every user-facing message has a zh_CN translation, compiled."""
import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def extracted_messages() -> set[str]:
    found = set()
    for sub, method in (("app", "python"), ("templates", "jinja2")):
        for _f, _l, message, _c, _ctx in extract_from_dir(
                str(ROOT / sub), method_map=[("**.py", "python"), ("**.html", "jinja2")]
                if method == "python" else [("**.html", "jinja2")], keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


def test_every_message_has_a_chinese_translation():
    """A message in the code or a template that the zh_CN catalogue lacks fails here."""
    with (TRANSLATIONS / "zh_Hans_CN/LC_MESSAGES/messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalogue if m.id}
    missing = sorted(m for m in extracted_messages() if not translated.get(m))
    assert not missing, "untranslated in zh_CN: " + "; ".join(missing)


def test_compiled_catalogue_is_current():
    """The committed .mo gives the Chinese of every message (run `flask translate compile`)."""
    with (TRANSLATIONS / "zh_Hans_CN/LC_MESSAGES/messages.mo").open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    stale = sorted(m for m in extracted_messages() if not (mo._catalog.get(m) or mo._catalog.get((m, 0))))
    assert not stale, "not in the compiled zh_CN catalogue: " + "; ".join(stale)


def test_both_catalogues_exist():
    """English is a real catalogue too, so the switch never shows a mix."""
    for lang in ("zh_Hans_CN", "en"):
        assert (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
