"""Protobuf text format read without a schema, for the Object Detection API's pipeline.config.

`parse_text_proto` turns text into nested Python values: a message is a dict of field name ->
list of values (any field may repeat, and without the schema a repeated field cannot be told
from a single one); a value is a dict (nested message, written `name { }`, `name: { }` or with
`< >`), an int (decimal, hex `0x`, octal `0`), a float (`1.5`, `-2e-3`, `1f`, `inf`, `nan`), a
str (a quoted string with C escapes, adjacent literals joined, or an enum value's name) or a bool
(`true`/`false`/`True`/`False`). Lists `name: [1, 2]` add their items to the field. `#` starts
a comment. Extension and Any fields (`[name]`) are refused.
"""
from __future__ import annotations

import re

from ....errors import UserInputError

__all__ = ["TextProtoSyntaxError", "parse_text_proto"]


class TextProtoSyntaxError(UserInputError):
    """Text that does not parse as protobuf text format; `line` and `column` count from 1."""

    def __init__(self, source: str, line: int, column: int, reason: str):
        super().__init__(f"{source}, line {line}, column {column}: {reason}; fix the text "
                         f"(protobuf text format, as the Object Detection API writes it)")
        self.source, self.line, self.column, self.reason = source, line, column, reason



_TOKEN = re.compile(r"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<open_string>["'])
    | (?P<number>[-+]?\.?[0-9][\w.+-]*)
    | (?P<word>-?[A-Za-z_]\w*)
    | (?P<symbol>[{}<>\[\]:,;./])     # "." and "/" belong in [extension names] only
""", re.VERBOSE)
_INTEGER = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[fF]?")
_SPECIAL_FLOATS = {"inf": float("inf"), "infinity": float("inf"), "nan": float("nan")}
_BOOLEANS = {"true": True, "True": True, "false": False, "False": False}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{4})"
                     r"|U([0-9a-fA-F]{8})|(.))", re.DOTALL)
_CLOSING = {"{": "}", "<": ">"}


class _Tokens:
    """The text's tokens with their positions, read front to back by the parser."""

    def __init__(self, text: str, source: str):
        self.source = source
        self.text = text
        self.items: list[tuple[str, str, int]] = []   # kind, text, offset
        self.index = 0
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                self.fail(f"unexpected character {text[position]!r}", position)
            if match.lastgroup == "open_string":
                self.fail("string not closed on its line", position)
            if match.lastgroup not in ("space", "comment"):
                self.items.append((match.lastgroup, match.group(), position))
            position = match.end()

    def fail(self, reason: str, offset: int | None = None):
        if offset is None:
            offset = self.items[self.index][2] if self.index < len(self.items) else len(self.text)
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        raise TextProtoSyntaxError(self.source, line, column, reason)

    def fail_last(self, reason: str):
        """Fail pointing at the token just taken."""
        self.index -= 1
        self.fail(reason)

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.index][:2] if self.index < len(self.items) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            self.fail("unexpected end of text")
        self.index += 1
        return token

    def take_if(self, *symbols: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "symbol" and token[1] in symbols:
            self.index += 1
            return token[1]
        return None

    def describe_next(self) -> str:
        token = self.peek()
        return "the end of the text" if token is None else repr(token[1])


def parse_text_proto(text: str, source: str = "text") -> dict:
    """Protobuf text format -> dict of field name -> list of values (see the module's doc).
    Raises `TextProtoSyntaxError` naming `source`, the line and the column."""
    return _parse_fields(_Tokens(text, source), closing=None)


def _parse_fields(tokens: _Tokens, closing: str | None) -> dict:
    message: dict[str, list] = {}
    while True:
        if closing is None and tokens.peek() is None:
            return message
        if closing is not None and tokens.take_if(closing):
            return message
        if tokens.peek() is None:
            tokens.fail(f"missing {closing!r} before the end of the text")
        kind, name = tokens.peek()
        if kind == "symbol" and name == "[":
            tokens.fail("extension and Any fields ([...]) are not supported")
        if kind != "word" or name.startswith("-"):
            expected = f"a field name or {closing!r}" if closing else "a field name"
            tokens.fail(f"expected {expected}, found {tokens.describe_next()}")
        tokens.take()
        message.setdefault(name, []).extend(_parse_field_values(tokens, name))
        tokens.take_if(",", ";")


def _parse_field_values(tokens: _Tokens, name: str) -> list:
    has_colon = tokens.take_if(":") is not None
    opening = tokens.take_if("{", "<")
    if opening:
        return [_parse_fields(tokens, _CLOSING[opening])]
    if not has_colon:
        tokens.fail(f"expected ':' or '{{' after field name {name!r}, "
                    f"found {tokens.describe_next()}")
    if tokens.take_if("["):
        return _parse_list(tokens)
    return [_parse_scalar(tokens)]


def _parse_list(tokens: _Tokens) -> list:
    values: list = []
    if tokens.take_if("]"):
        return values
    while True:
        opening = tokens.take_if("{", "<")
        values.append(_parse_fields(tokens, _CLOSING[opening]) if opening
                      else _parse_scalar(tokens))
        if tokens.take_if("]"):
            return values
        if not tokens.take_if(","):
            tokens.fail(f"expected ',' or ']' in a list, found {tokens.describe_next()}")


def _parse_scalar(tokens: _Tokens):
    kind, text = tokens.take()
    if kind == "string":
        value = _unquote(tokens, text)
        while tokens.peek() is not None and tokens.peek()[0] == "string":
            value += _unquote(tokens, tokens.take()[1])     # adjacent literals concatenate
        return value
    if kind == "number":
        return _number(tokens, text)
    if kind == "word":
        return _word(tokens, text)
    tokens.fail_last(f"expected a value, found {text!r}")


def _number(tokens: _Tokens, text: str) -> int | float:
    if _INTEGER.fullmatch(text):
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits[:2].lower() == "0x":
            return sign * int(digits, 16)
        return sign * int(digits, 8 if digits.startswith("0") else 10)   # C-style octal
    if _FLOAT.fullmatch(text):
        return float(text.rstrip("fF"))
    tokens.fail_last(f"{text!r} is not a number")


def _word(tokens: _Tokens, text: str) -> bool | float | str:
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    special = _SPECIAL_FLOATS.get(text.lstrip("-").lower())
    if special is not None:
        return -special if text.startswith("-") else special
    if text.startswith("-"):
        tokens.fail_last(f"{text!r} is not a number")
    return text                                     # an enum value's name


def _unquote(tokens: _Tokens, literal: str) -> str:
    """A quoted literal's text with C-style escapes resolved. Octal and hex escapes are bytes,
    decoded as UTF-8 together with the rest (so the text is worked on as latin-1 bytes)."""
    def escape(match: re.Match) -> str:
        octal, hexa, short, long, char = match.groups()
        if octal or hexa:
            return chr(int(octal, 8) & 0xFF if octal else int(hexa, 16))
        if short or long:
            return chr(int(short or long, 16)).encode("utf-8", "replace").decode("latin-1")
        if char not in _ESCAPES:
            tokens.fail_last(f"unknown escape sequence \\{char} in string {literal}")
        return _ESCAPES[char]
    raw = _ESCAPE.sub(escape, literal[1:-1].encode("utf-8").decode("latin-1"))
    return raw.encode("latin-1").decode("utf-8", errors="replace")
