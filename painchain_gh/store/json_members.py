"""Read a large JSON object member by member, so the whole parsed tree never exists at once.

The state file of 10,000 repositories is a few megabytes of text but tens of megabytes as
Python objects; reading its ``repos`` object one member at a time keeps only one repository's
objects alive. Any valid JSON layout is accepted (whitespace, key order).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in _WHITESPACE:
            self.at += 1

    def expect(self, char: str) -> None:
        self.skip()
        if self.text[self.at : self.at + 1] != char:
            raise json.JSONDecodeError(f"expected {char!r}", self.text, self.at)
        self.at += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.at : self.at + 1]

    def value(self) -> Any:
        self.skip()
        decoded, self.at = _DECODER.raw_decode(self.text, self.at)
        return decoded


def _members(cursor: _Cursor) -> Iterator[tuple[str, Any | _Cursor]]:
    """Members of the object at the cursor; a value is left unparsed (the cursor) when the caller
    must stream it, i.e. yields (key, cursor) for every member and the caller consumes the value."""
    cursor.expect("{")
    if cursor.peek() == "}":
        cursor.at += 1
        return
    while True:
        key = cursor.value()
        if not isinstance(key, str):
            raise json.JSONDecodeError("object keys must be strings", cursor.text, cursor.at)
        cursor.expect(":")
        yield key, cursor
        if cursor.peek() == ",":
            cursor.at += 1
            continue
        cursor.expect("}")
        return


def read_object(text: str, *, streamed: str) -> tuple[dict[str, Any], Iterator[tuple[str, Any]] | None]:
    """Split a JSON object: every member but ``streamed`` parsed whole, and ``streamed`` (when it is
    an object) as an iterator of its members, parsed one at a time. Raises ``json.JSONDecodeError``.

    The iterator must be consumed before the returned dict is trusted to be complete: members that
    follow ``streamed`` in the text are added to the dict as the iteration passes them.
    """
    cursor = _Cursor(text)
    top: dict[str, Any] = {}
    members = _members(cursor)
    for key, position in members:
        if key == streamed and position.peek() == "{":
            return top, _stream_then_rest(position, members, top)
        top[key] = position.value()
    _end(cursor)
    return top, None


def _stream_then_rest(
    cursor: _Cursor, outer: Iterator[tuple[str, Any]], top: dict[str, Any]
) -> Iterator[tuple[str, Any]]:
    for key, position in _members(cursor):
        yield key, position.value()
    for key, position in outer:
        top[key] = position.value()
    _end(cursor)


def _end(cursor: _Cursor) -> None:
    cursor.skip()
    if cursor.at != len(cursor.text):
        raise json.JSONDecodeError("extra data after the object", cursor.text, cursor.at)
