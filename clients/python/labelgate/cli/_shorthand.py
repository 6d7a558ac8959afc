"""The AWS CLI's shorthand syntax for structures and maps, as far as our shapes need it.

    S3Bucket=out,S3KeyPrefix=models/            -> {"S3Bucket": "out", "S3KeyPrefix": "models/"}
    GroundTruthManifest={S3Object={Bucket=b,Name=k}}
    Assets=[{GroundTruthManifest={S3Object={Bucket=b,Name=k}}}]
    Key=a,b,c                                   -> {"Key": ["a", "b", "c"]}

Values are strings; the shape they land in types them afterwards (`_params.coerce`).
Quote a value ("..." or '...') to keep commas, braces or `=` inside it.
"""

from __future__ import annotations

from typing import Any

_STOP = ",}]"


class ShorthandError(ValueError):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            got = repr(self._peek()) if self._peek() else "end of input"
            raise ShorthandError(f"Expected: '{char}', received: {got} at position {self.pos}")
        self.pos += 1

    def _skip_space(self) -> None:
        while self._peek().isspace():
            self.pos += 1

    def structure(self, closing: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            self._skip_space()
            key = self._key()
            self._expect("=")
            out[key] = self._value(continuation=True)
            self._skip_space()
            if self._peek() == ",":
                self.pos += 1
                continue
            if self._peek() == closing:
                return out
            got = repr(self._peek()) if self._peek() else "end of input"
            raise ShorthandError(f"Expected: ',' received: {got} at position {self.pos}")

    def _key(self) -> str:
        start = self.pos
        while self._peek() and self._peek() not in "=,{}[]":
            self.pos += 1
        key = self.text[start:self.pos].strip()
        if not key:
            raise ShorthandError(f"Expected a key at position {start}")
        return key

    def _value(self, continuation: bool = False) -> Any:
        self._skip_space()
        char = self._peek()
        if char == "{":
            self.pos += 1
            value: Any = self.structure(closing="}")
            self._expect("}")
            return value
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            self._skip_space()
            while self._peek() != "]":
                items.append(self._value())
                self._skip_space()
                if self._peek() == ",":
                    self.pos += 1
                elif self._peek() != "]":
                    raise ShorthandError(f"Expected: ',' or ']' at position {self.pos}")
            self.pos += 1
            return items
        first = self._scalar()
        if not continuation:
            return first
        # `Key=a,b,c`: segments without their own `=` continue a list.
        values = [first]
        while self._peek() == "," and self.text[self.pos + 1:].strip() and \
                not self._next_is_key():
            self.pos += 1
            values.append(self._scalar())
        return values if len(values) > 1 else first

    def _next_is_key(self) -> bool:
        for char in self.text[self.pos + 1:]:
            if char == "=":
                return True
            if char in ",{}[]\"'":
                return False
        return False

    def _scalar(self) -> str:
        self._skip_space()
        quote = self._peek()
        if quote in ("'", '"'):
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise ShorthandError(f"Unterminated quote at position {self.pos}")
            value = self.text[self.pos + 1:end]
            self.pos = end + 1
            return value
        start = self.pos
        while self._peek() and self._peek() not in _STOP:
            self.pos += 1
        return self.text[start:self.pos].strip()


def parse_shorthand(text: str) -> dict[str, Any]:
    """`Key=value,...` -> dict; raises ShorthandError with the position of a mistake."""
    parser = _Parser(text)
    result = parser.structure()
    if parser.pos != len(text):
        raise ShorthandError(f"Unexpected {text[parser.pos]!r} at position {parser.pos}")
    return result
