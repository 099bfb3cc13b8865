"""The one glossary (app/data/glossary.csv): each term in Chinese and English,
what it means in both, the English words of the message catalogue it stands
for, and the Chinese words it replaces. tests/test_glossary.py holds both
catalogues to it; the glossary page shows it to users."""
import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PATH = Path(__file__).resolve().parent / "data" / "glossary.csv"


@dataclass(frozen=True)
class Term:
    en: str
    zh: tuple[str, ...]        # the first is the term; the others are its short forms
    en_pattern: str            # English msgids matching it must use one of `zh`
    avoid: tuple[str, ...]     # Chinese words never to use for it
    meaning: str
    meaning_zh: str


@cache
def terms() -> tuple[Term, ...]:
    with open(PATH, encoding="utf-8", newline="") as f:
        return tuple(Term(en=row["en"], zh=tuple(z.strip() for z in row["zh"].split("/")),
                          en_pattern=row["en_pattern"],
                          avoid=tuple(a for a in row["avoid"].split(";") if a),
                          meaning=row["meaning"], meaning_zh=row["meaning_zh"])
                     for row in csv.DictReader(f))
