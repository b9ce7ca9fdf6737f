"""A deliberately small language guess for customer mail.

Only Russian and English matter to pixbridge today, so the guess is by script: Cyrillic letters
mean ``ru``, Latin letters mean ``en``. Russian support mail is full of Latin-script product
names, paths and log lines while English mail never holds Cyrillic, so a third of the letters
being Cyrillic is enough for ``ru``. Anything else (no letters, mostly Chinese or Japanese) is
``""`` and the caller falls back to its configured default language. Replace this module with a
real detector when a third language matters.
"""

from __future__ import annotations

import re

__all__ = ["detect"]

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Basic Latin, Latin-1 Supplement and Latin Extended-A/B letters (German, French, Czech...).
_LATIN = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")

# The start of a message says enough; reading a 5 MB body would only cost time.
_SAMPLE = 4000


def detect(text: str) -> str:
    """Guess the language of *text*: ``"ru"``, ``"en"`` or ``""`` when it cannot tell.

    Text whose letters are mostly of another script (Chinese, Japanese...), or that has no
    letters, gives ``""``.
    """
    sample = text[:_SAMPLE]
    if sample.isascii():
        # No Cyrillic is possible, and every ASCII letter is Latin: one scan instead of three.
        return "en" if _LATIN.search(sample) else ""
    letters = len(_LETTER.findall(sample))
    if not letters:
        return ""
    cyrillic = len(_CYRILLIC.findall(sample))
    latin = len(_LATIN.findall(sample))
    if (cyrillic + latin) * 2 <= letters:
        return ""
    return "ru" if cyrillic * 2 >= latin else "en"
