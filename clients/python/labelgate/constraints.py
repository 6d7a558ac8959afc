"""Server-side checks of the AWS API model's constraints, as the real service makes them.

botocore validates only `required`, `min` and types on the client; `max`, `pattern` and enum
membership are enforced by AWS itself (api.md). Our gateway enforces all of them for every
operation from botocore's own service model, so the limits can never drift from AWS's. The
message follows AWS's wording: `1 validation error detected: Value 'a b' at 'projectName'
failed to satisfy constraint: Member must satisfy regular expression pattern: ...`.
"""

from __future__ import annotations

import functools
from typing import Any

import regex

from labelgate.aws_model import service_model
from labelgate.errors import ValidationException


@functools.cache
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _check(shape, value: Any, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy "
                    "constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), problems)
        return
    size = None
    if kind in ("string", "blob", "list", "map"):
        size = len(value)
    if size is not None:
        if "min" in meta and size < meta["min"]:
            problems.append(
                f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {meta['min']}"
            )
        if "max" in meta and size > meta["max"]:
            problems.append(
                f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
    elif kind in ("integer", "long", "float", "double") and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {meta['min']}"
            )
        if "max" in meta and value > meta["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {meta['max']}"
            )
    if kind == "string":
        enum = shape.enum
        if enum and value not in enum:
            problems.append(
                f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]"
            )
        pattern = meta.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            problems.append(
                f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}"
            )
    elif kind == "list":
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}.{i + 1}.member", problems)
    elif kind == "map":
        for k, v in value.items():
            _check(shape.key, k, f"{path}.{k}.key", problems)
            _check(shape.value, v, f"{path}.{k}.value", problems)


def _join(path: str, member: str) -> str:
    return f"{path}.{_lower_first(member)}" if path else _lower_first(member)


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint `params` break, AWS-style."""
    shape = service_model().operation_model(operation).input_shape
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        n = len(problems)
        raise ValidationException(
            f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems)
        )
