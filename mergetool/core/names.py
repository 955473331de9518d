"""Folding of Vietnamese unit names into comparison keys.

Real tables spell the same unit many ways: with or without diacritics, ``Đ``
written as the look-alike ``Ð`` (ETH), old-style tone placement (``Hoà`` for
``Hòa``), decomposed Unicode, administrative prefixes (``TP.``, ``Tỉnh``,
``Thành phố``), dashes of every width. Two spellings of one name fold to the
same key; the ASCII key is a looser fallback used only where it is unambiguous.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\ufeff]+")
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                         "\u2014": "-", "\u2212": "-", "\u00d0": "Đ", "\u00f0": "đ"})
_PREFIX = re.compile(r"^(thành phố|thủ đô|tỉnh|tp\.|tp(?=\s))\s*", re.IGNORECASE)
_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
# Old-style tone placement on a syllable-final diphthong (hoà, thuỷ) -> new style (hòa, thủy).
_OLD_TO_NEW = {
    unicodedata.normalize("NFC", a + b + t): unicodedata.normalize("NFC", a + t + b)
    for a, b in (("o", "a"), ("o", "e"), ("u", "y"))
    for t in _TONES
}
_OLD_STYLE = re.compile("(" + "|".join(sorted(_OLD_TO_NEW)) + r")(?![^\W\d_])")
_PUNCT = re.compile(r"[-.,]+")
# Combining marks of the block U+0300-U+036F (all but U+034F, which is not combining): removing
# them from a decomposed name is removing its diacritics whenever what remains is ASCII.
_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]+")
#: Names folded per process (a basis of 10,000 communes folds each name once).
_CACHE = 1 << 17


def clean(text: str) -> str:
    """NFC text with look-alike letters and dashes unified and white space collapsed."""
    text = unicodedata.normalize("NFC", text).translate(_DASHES)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=_CACHE)
def name_key(text: str) -> str:
    """Comparison key: case-, prefix-, tone-placement- and punctuation-insensitive."""
    key = clean(text).casefold()
    key = _OLD_STYLE.sub(lambda m: _OLD_TO_NEW[m.group(1)], key)
    previous = None
    while key != previous:  # "TP. Tỉnh X", "- X": strip until nothing changes
        previous = key
        key = _PREFIX.sub("", key)
        key = _SPACES.sub(" ", _PUNCT.sub(" ", key)).strip()
    return key


def ascii_key(text: str) -> str:
    """:func:`name_key` without diacritics (``đ`` -> ``d``): the loosest key."""
    decomposed = unicodedata.normalize("NFD", name_key(text).replace("đ", "d"))
    if decomposed.isascii():
        return decomposed
    bare = _MARKS.sub("", decomposed)
    if bare.isascii():  # every mark removed was a combining character
        return bare
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1024)
def heading_key(text: str) -> str:
    """A column heading folded for comparison: case, diacritics and punctuation ignored, no
    prefix stripped (``TINH/THANH PHO`` is ``Tỉnh/Thành phố``; unlike a unit name, the word
    "tỉnh" is the heading's meaning)."""
    decomposed = unicodedata.normalize("NFD", clean(text).casefold().replace("đ", "d"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", bare))


# The prefixes written without diacritics (``Thanh pho Ha Noi``, ``Tinh Bac Kan``). They are not
# stripped by :func:`name_key`: real names begin with such words (the commune Tinh Nhuệ), so
# they are tried only by :func:`bare_ascii_key`, after the whole name found nothing.
_ASCII_PREFIX = re.compile(r"^(?:thanh pho|thu do|tinh)\s+(?=\S)")


def bare_ascii_key(text: str) -> str | None:
    """:func:`ascii_key` of ``text`` without a leading prefix written without diacritics
    (``Thanh pho``, ``Thu do``, ``Tinh``); None when it has none. ``Tịnh Biên`` has none:
    ``tịnh`` is not ``tỉnh``."""
    key = name_key(text)
    match = _ASCII_PREFIX.match(key)
    return ascii_key(key[match.end():]) if match else None


def nearest(text: str, candidates: list[str], n: int = 3) -> list[str]:
    """The up to ``n`` candidate names closest to ``text``, compared by ASCII key."""
    by_key: dict[str, str] = {}
    for name in candidates:
        by_key.setdefault(ascii_key(name), name)
    keys = difflib.get_close_matches(ascii_key(text), list(by_key), n=n, cutoff=0.5)
    return [by_key[k] for k in keys]


def normalise_code(text: str) -> str | None:
    """A unit code as a zero-padded digit string (``1`` -> ``01``, ``1.0`` -> ``01``); None if not one."""
    text = clean(text)
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    if not text.isdigit():
        return None
    return text.zfill(2)
