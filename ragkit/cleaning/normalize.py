"""Text normalization: conservative repairs that never change what a text says.

Mojibake and broken line breaks are repaired with ftfy (Speer, "ftfy: fixes text for you"); quotes, character
widths and CJK punctuation are left as they are.
"""

from __future__ import annotations

import html
import re
import unicodedata

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Only tags of common HTML markup: "<T>" in code or "a < b > c" in text must survive.
_HTML_TAG = re.compile(
    r"</?(?:p|div|span|b|i|u|em|strong|a|li|ul|ol|td|tr|th|table|tbody|thead|h[1-6]|font|sup|sub|img|hr|center|"
    r"small|big|blockquote|pre|code|section|article|header|footer|nav)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = re.compile(r" +\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def fix_mojibake(text: str) -> str:
    """Undo text decoded with the wrong codec ("CafÃ©" → "Café") and other encoding accidents."""
    import ftfy

    return ftfy.fix_text(
        text,
        unescape_html=False,
        uncurl_quotes=False,
        fix_character_width=False,
        fix_latin_ligatures=True,
        normalization=None,
        explain=False,
    )


def strip_markup(text: str) -> str:
    """Remove leftover HTML tags and decode HTML entities (``&amp;`` → ``&``)."""
    text = _BREAK_TAG.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    return _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)


def normalize_whitespace(text: str) -> str:
    """One space between words, at most one blank line between paragraphs, no leading or trailing space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def normalize_text(
    text: str, *, mojibake: bool = True, markup: bool = True, unicode_form: str | None = "NFC", whitespace: bool = True
) -> str:
    """All repairs in order: encoding, Unicode form, invisible and control characters, markup, whitespace."""
    if mojibake:
        text = fix_mojibake(text)
    if unicode_form:
        text = unicodedata.normalize(unicode_form, text)
    text = _CONTROL.sub("", _ZERO_WIDTH.sub("", text.replace("\t", " ")))
    if markup:
        text = strip_markup(text)
    if whitespace:
        text = normalize_whitespace(text)
    return text
