"""MO keywords: the first word of a message, compared without case or accents.

Subscribers type "stop", "Stop.", "STÓP" or "ｓｔｏｐ" and all of them mean STOP, so keywords
in the route file and in messages go through the same `normalize_keyword`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["STANDARD_OPT_IN", "STANDARD_OPT_OUT", "first_keyword", "normalize_keyword"]

#: Opt-out words every carrier and regulator expects to work (CTIA list and friends).
STANDARD_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "END", "CANCEL", "QUIT")
#: Opt-in words that undo an opt-out.
STANDARD_OPT_IN = ("START", "UNSTOP")

_EDGE_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»“”‘’„…"


def normalize_keyword(word: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded, edge
    punctuation stripped ("Stóp!" → "stop")."""
    decomposed = unicodedata.normalize("NFKD", word)
    if not decomposed.isascii():
        decomposed = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return decomposed.casefold().strip(_EDGE_PUNCTUATION)


def first_keyword(text: str) -> str:
    """The normalised first word of an MO text, or "" for an empty/blank message."""
    words = text.split(None, 1)
    return normalize_keyword(words[0]) if words else ""
