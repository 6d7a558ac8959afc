"""Command-line text -> AWS-shaped request values, typed by botocore's shapes.

The rules are the AWS CLI's: `file://path` reads a file as text and `fileb://path` as bytes
for any parameter; structures and maps are JSON or shorthand (`k=v,k2=v2`); lists are
space-separated values or one JSON list; blobs take `fileb://` (raw bytes) or text (sent as
its UTF-8 bytes, the AWS CLI's `--cli-binary-format raw-in-base64-out`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.model import Shape

from labelgate.cli._shorthand import ShorthandError, parse_shorthand


class ParamError(ValueError):
    """A parameter that cannot be read; the CLI prints it on one line and exits 252."""


def _read(option: str, path: str, binary: bool) -> str | bytes:
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as e:
        scheme = "fileb" if binary else "file"
        raise ParamError(f"Error parsing parameter '{option}': Unable to load paramfile "
                         f"{scheme}://{path}: {e.strerror or e}") from None
    if binary:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ParamError(f"Error parsing parameter '{option}': file://{path} is not UTF-8 "
                         "text; use fileb:// for binary files") from None


def load_paramfile(option: str, text: str) -> str | bytes:
    """`file://` and `fileb://` references -> their content; anything else unchanged."""
    if text.startswith("fileb://"):
        return _read(option, text[len("fileb://"):], binary=True)
    if text.startswith("file://"):
        return _read(option, text[len("file://"):], binary=False)
    return text


def _text(option: str, token: str) -> str:
    value = load_paramfile(option, token)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ParamError(f"Error parsing parameter '{option}': not UTF-8 text") from None
    return value


def _json(option: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ParamError(f"Error parsing parameter '{option}': Invalid JSON: {e.msg} "
                         f"(line {e.lineno} column {e.colno})") from None


def _structure_text(option: str, text: str) -> Any:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return _json(option, stripped)
    try:
        return parse_shorthand(stripped)
    except ShorthandError as e:
        raise ParamError(f"Error parsing parameter '{option}': {e}") from None


def coerce(shape: Shape, value: Any, option: str, where: str = "") -> Any:
    """Type a JSON or shorthand value by its shape; resolve `fileb://` inside blobs."""
    kind = shape.type_name
    at = f" at {where}" if where else ""

    def bad(expected: str) -> ParamError:
        return ParamError(f"Error parsing parameter '{option}': expected {expected}{at}, "
                          f"got {json.dumps(value, default=repr)}")

    if kind == "structure":
        if not isinstance(value, dict):
            raise bad("a structure")
        out: dict[str, Any] = {}
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                raise ParamError(f"Error parsing parameter '{option}': Unknown parameter "
                                 f"\"{key}\"{at}, must be one of: {', '.join(shape.members)}")
            out[key] = coerce(member, item, option, f"{where}.{key}" if where else key)
        return out
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [coerce(shape.member, item, option, f"{where}[{i}]")
                for i, item in enumerate(items)]
    if kind == "map":
        if not isinstance(value, dict):
            raise bad("a map")
        return {str(k): coerce(shape.value, v, option, f"{where}.{k}") for k, v in value.items()}
    if kind in ("integer", "long"):
        if isinstance(value, bool):
            raise bad("an integer")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad("an integer") from None
    if kind in ("float", "double"):
        if isinstance(value, bool):
            raise bad("a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad("a number") from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad("true or false")
    if kind == "blob":
        if isinstance(value, str):
            return load_paramfile(option, value)
        raise bad("a string or fileb://path")
    if kind == "string":
        if not isinstance(value, str):
            raise bad("a string")
        if shape.enum and value not in shape.enum:
            raise ParamError(f"Error parsing parameter '{option}': Invalid value '{value}'"
                             f"{at}, valid values: {', '.join(shape.enum)}")
        return value
    raise bad(kind)


def parse_option(shape: Shape, raw: Any, option: str) -> Any:
    """The value of one top-level option, from what argparse collected for it."""
    kind = shape.type_name
    if kind == "boolean":
        return bool(raw)
    if kind == "blob":
        value = load_paramfile(option, raw)
        return value
    if kind == "list":
        tokens: list[str] = list(raw)
        member = shape.member
        if len(tokens) == 1:
            text = _text(option, tokens[0]).strip()
            if text.startswith("["):
                return coerce(shape, _json(option, text), option)
            tokens = [text]
        if member.type_name in ("structure", "map"):
            return [coerce(member, _structure_text(option, _text(option, t)), option, f"[{i}]")
                    for i, t in enumerate(tokens)]
        return [coerce(member, _text(option, t), option, f"[{i}]") for i, t in enumerate(tokens)]
    if kind == "map":
        merged: dict[str, Any] = {}
        for token in raw:
            piece = _structure_text(option, _text(option, token))
            merged.update(coerce(shape, piece, option))
        return merged
    if kind == "structure":
        return coerce(shape, _structure_text(option, _text(option, raw)), option)
    return coerce(shape, _text(option, raw), option)
