"""File names that are not valid UTF-8 (old Linux disks, USB sticks): kept losslessly, shown readably.

Python hands such a name over with each undecodable byte as a lone surrogate (U+DC80-U+DCFF,
"surrogateescape"), which opens the right file but cannot be encoded as UTF-8: SQLite, JSON, a terminal and a
CSV all refuse it. The store keeps each of those bytes as a character of the last private-use plane
(U+10FF80-U+10FFFF), which never occurs in a real file name, and gives the surrogate back on reading, so
the rest of the code sees the name exactly as os.scandir gave it."""
from __future__ import annotations

import re

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

_SURROGATE = 0xDC00  # surrogateescape: byte b (0x80-0xFF) becomes U+DC00 + b
_STORED = 0x10FF00  # in the store: byte b becomes U+10FF00 + b
_BYTES = range(0x80, 0x100)

_TO_STORE = {_SURROGATE + b: _STORED + b for b in _BYTES}
_FROM_STORE = {_STORED + b: _SURROGATE + b for b in _BYTES}


_ESCAPED = re.compile("[\udc80-\udcff]")
_KEPT = re.compile("[\U0010ff80-\U0010ffff]")


def is_undecodable(name: str) -> bool:
    return not name.isascii() and _ESCAPED.search(name) is not None


def uses_reserved(name: str) -> bool:
    """A decodable name with characters the store uses for undecodable bytes (so it cannot be kept apart)."""
    return not name.isascii() and _KEPT.search(name) is not None


def shown(name: str) -> str:
    """For people (terminal, window, JSON): each undecodable byte as the replacement character."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if is_undecodable(name) else name


def escaped(name: str) -> str:
    r"""For files others read (CSV): valid UTF-8, each undecodable byte written as \xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") if is_undecodable(name) else name


class StoredPath(TypeDecorator):
    """A path column that round-trips undecodable names (see the module's docstring)."""

    impl = String
    cache_ok = True

    # isascii() is a flag lookup and the regex a C scan: names without odd bytes pass through untouched
    def process_bind_param(self, value, dialect):
        if isinstance(value, str) and not value.isascii() and _ESCAPED.search(value):
            return value.translate(_TO_STORE)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, str) and not value.isascii() and _KEPT.search(value):
            return value.translate(_FROM_STORE)
        return value
