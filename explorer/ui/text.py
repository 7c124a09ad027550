"""Text from outside the app (an address, a file name, a checkpoint) shown as text, never as markdown.

Streamlit renders messages, titles and captions as GitHub-flavoured markdown with its own
directives: a file named ``[Log in](https://…)`` would become a link, ``![x](http://…)`` an
image every visitor's browser fetches. `inert` backslash-escapes every ASCII punctuation
character (CommonMark lets any of them be escaped, and the frontend shows ``\\[`` as ``[``), so
links, images, emphasis, ``:red[…]`` and ``:material/…:`` directives and ``$`` math all stay
the characters they are. GFM's autolinks of ``http://``, ``www.`` and ``name@host`` are found in
the text after the escapes are read, so a word joiner (U+2060, shown as nothing) goes where it
breaks their pattern: ``http⁠://``, ``www⁠.``, ``name⁠@host``. Pass user text through `inert` as a
format argument, so that the sentence's own markdown (a bold model name) still works.
"""

from __future__ import annotations

import re
import string

MESSAGE_LIMIT = 200  # characters of one value in a message: a name, a link's text
ERROR_LIMIT = 1000  # characters of a whole error sentence that may quote user text
ELLIPSIS = "…"

WORD_JOINER = "\u2060"
# Where Streamlit's GFM autolinks (micromark's tokenizer and mdast's regexes) start: a scheme's
# "://", "www." and the "@" of an address; a word joiner there leaves no link to find.
_AUTOLINK_STARTS = re.compile(r"(?<=https)(?=://)|(?<=http)(?=://)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
_ESCAPES = str.maketrans({character: "\\" + character for character in string.punctuation})
# Line breaks would start markdown blocks (a heading, a list); bidirectional overrides make a
# name read in another order than it is ("gpj.exe"); other control characters show as boxes.
_UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` (str() of it) escaped for Streamlit markdown, cut to ``limit`` characters with "…".

    Cut first, then escaped: an escape is never split, and the limit counts what the reader sees.
    """
    plain = _UNSHOWN.sub(" ", str(text))
    if len(plain) > limit:
        plain = plain[: max(limit - 1, 0)] + ELLIPSIS
    return _AUTOLINK_STARTS.sub(WORD_JOINER, plain).translate(_ESCAPES)


def inert_error(error: BaseException | str) -> str:
    """An error's sentence for st.error: library sentences carry no markdown, but may quote user text."""
    return inert(error, ERROR_LIMIT)
