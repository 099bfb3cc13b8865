"""flask translate ...: keep the message catalogues in step with the code.

The Chinese catalogue lives in zh_Hans_CN: Babel parses the locale zh_CN as
zh_Hans_CN (CLDR adds the script) and looks for that folder."""
import subprocess
import sys
from pathlib import Path

from flask.cli import AppGroup

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
POT = TRANSLATIONS / "messages.pot"

translate_cli = AppGroup("translate", help="Message catalogues (zh_CN, en).")


def _babel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=ROOT, check=True)


@translate_cli.command("update")
def update():
    """Extract messages from code and templates and merge them into the catalogues."""
    _babel("extract", "-F", "app/babel.cfg", "-k", "_l", "--no-location", "--sort-output", "--no-wrap",
           "-o", str(POT), ".")
    for lang in ("zh_Hans_CN", "en"):
        if (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").exists():
            _babel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", lang, "--no-fuzzy-matching",
                   "--no-wrap")
        else:
            _babel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", lang)


@translate_cli.command("compile")
def compile_():
    """Compile the .po catalogues into the .mo files the app loads (committed)."""
    _babel("compile", "-d", str(TRANSLATIONS))
