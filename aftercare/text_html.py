"""A message's plain text as HTML: the email's HTML part and the aftercare page show the same words.

Clinics write messages as plain text in the admin (paragraphs separated by a
blank line, lists as lines starting with "- "). This turns such text into
escaped HTML: paragraphs, lists, line breaks, and addresses as links. Nothing
in the text is trusted as markup.
"""

from __future__ import annotations

import re

from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe

_ITEM = re.compile(r"^\s*[-•]\s+")


def _inline(line: str) -> str:
    # urlize escapes what it does not link (autoescape=True).
    return urlize(line, autoescape=True)


def text_to_html(text: str) -> SafeString:
    """Return `text` as HTML paragraphs and lists, every character of it escaped."""
    blocks = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in paragraph.splitlines() if line.strip()]
        lead: list[str] = []
        items: list[str] = []
        for line in lines:
            if _ITEM.match(line):
                items.append(_ITEM.sub("", line))
            elif items:
                # A line after the list continues its last item.
                items[-1] += " " + line.strip()
            else:
                lead.append(line)
        if lead:
            blocks.append("<p>" + "<br>".join(_inline(line) for line in lead) + "</p>")
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
    return mark_safe("\n".join(blocks))  # noqa: S308 - every piece above is escaped
