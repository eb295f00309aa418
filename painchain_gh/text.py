"""Untrusted text made safe for a terminal or a text log (pure).

Anything a server, a state file or a configuration says may carry terminal escape sequences
(``ESC [ 31 m``, ``ESC ] 0 ; title BEL``), carriage returns that overwrite a log line, line
separators that split one, or lone surrogates that cannot be encoded: :func:`escape` turns
each of them into a visible escape such as ``\\x1b`` or ``\\u2028`` and bounds the length.
"""

from __future__ import annotations

import logging
import re

MAX_LENGTH = 2000
_ELLIPSIS = "…"
# C0 controls, DEL, C1 controls, line/paragraph separators, bidirectional overrides and
# isolates (they reorder what a terminal shows), byte-order mark, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str, limit: int = MAX_LENGTH) -> str:
    """``text`` with every unsafe character as a visible escape, cut to about ``limit`` characters."""
    if _UNSAFE.search(text) is None:
        return text if len(text) <= limit else text[: max(0, limit - 1)] + _ELLIPSIS
    pieces: list[str] = []
    size = 0
    position = 0
    for match in _UNSAFE.finditer(text):
        for piece in (text[position : match.start()], _visible(match.group())):
            if size + len(piece) > limit:
                return _cut(pieces, piece, limit - size)
            pieces.append(piece)
            size += len(piece)
        position = match.end()
    tail = text[position:]
    if size + len(tail) > limit:
        return _cut(pieces, tail, limit - size)
    return "".join([*pieces, tail])


def _cut(pieces: list[str], piece: str, room: int) -> str:
    """The pieces so far, as much of ``piece`` as fits (an escape is never split), and ``…``."""
    keep = "" if _visible_escape(piece) else piece[: max(0, room - 1)]
    return "".join([*pieces, keep]) + _ELLIPSIS


def _visible_escape(piece: str) -> bool:
    return piece.startswith(("\\x", "\\u")) and len(piece) in (4, 6)


class EscapeForText(logging.Filter):
    """Escapes a record's formatted message and its string ``fields`` (text logs only: JSON
    logs are escaped by ``json.dumps``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Escape in place; never drops a record."""
        record.msg = escape(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {key: escape(value) if isinstance(value, str) else value for key, value in fields.items()}
        return True
