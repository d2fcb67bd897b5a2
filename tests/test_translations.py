"""The shipped translations: compiled from their source, and complete for what patients read.

`locale/<language>/LC_MESSAGES/django.po` is the source; the `.mo` beside it
is what Django reads, compiled with `make messages`. A .po edited without
recompiling would ship the old words; a string added to a patient's page
without a translation would show in English.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

LOCALE = PROJECT_ROOT / "locale"
# Where the words patients read come from; staff pages stay in English.
PATIENT_SOURCES = re.compile(r"aftercare/(templates/aftercare/|check_in_form|photos|recovery|views|dispatch)")


def entries(po: Path) -> list[tuple[list[str], str, str]]:
    """(references, msgid, msgstr) of each entry of a .po file, header excepted."""
    found = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        references = [ref for line in block.splitlines() if line.startswith("#:") for ref in line[2:].split()]
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r"^(msgid|msgstr) (\".*\")$", line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            found.append((references, fields["msgid"], fields.get("msgstr", "")))
    return found


LANGUAGES = sorted(path.name for path in LOCALE.iterdir() if path.is_dir())


def test_spanish_is_shipped() -> None:
    assert "es" in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language: str) -> None:
    folder = LOCALE / language / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)

    stale = [
        msgid for _, msgid, msgstr in entries(folder / "django.po") if msgstr and catalogue.gettext(msgid) != msgstr
    ]

    assert stale == []
    assert "#, fuzzy" not in (folder / "django.po").read_text(encoding="utf-8")  # fuzzy entries are not compiled


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_word_a_patient_reads_is_translated(language: str) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "django.po"

    untranslated = [
        msgid
        for references, msgid, msgstr in entries(po)
        if not msgstr and any(PATIENT_SOURCES.search(ref) for ref in references)
    ]

    assert untranslated == []
