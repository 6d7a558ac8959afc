"""Responses as the AWS CLI prints them: `--query` (JMESPath), then `--output json` (AWS
member names, indent 4) or `--output text` (the AWS CLI's tab-separated format)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any, TextIO

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from labelgate.cli._params import ParamError


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def compile_query(expression: str | None) -> ParsedResult | None:
    """Compile `--query` before anything is sent, so a typo costs no side effect."""
    if expression is None:
        return None
    try:
        return jmespath.compile(expression)
    except JMESPathError as e:
        message = str(e).replace("\n", " ")
        raise ParamError(f"Bad value for --query {expression}: {message}") from None


# -- text: a port of awscli/text.py, so `--output text` scripts read the same columns --------

def _text(item: Any, out: list[str], identifier: str | None = None,
          scalar_keys: list[str] | None = None) -> None:
    if isinstance(item, dict):
        _text_dict(item, out, identifier, scalar_keys)
    elif isinstance(item, list):
        _text_list(item, out, identifier)
    else:
        out.append(str(item))


def _text_list(items: list[Any], out: list[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(e, dict) for e in items):
        keys = sorted({k for e in items if isinstance(e, dict)
                       for k, v in e.items() if not isinstance(v, dict | list)})
        for element in items:
            _text(element, out, identifier, keys)
        return
    scalars = [e for e in items if not isinstance(e, dict | list)]
    nested = [e for e in items if isinstance(e, dict | list)]
    if scalars:
        if identifier is not None:
            out.extend(f"{identifier.upper()}\t{e}" for e in scalars)
        else:
            out.append("\t".join(str(e) for e in scalars))
    for element in nested:
        _text(element, out, identifier)


def _text_dict(item: dict[str, Any], out: list[str], identifier: str | None,
               scalar_keys: list[str] | None) -> None:
    if scalar_keys is None:
        scalars = [str(v) for _, v in sorted(item.items()) if not isinstance(v, dict | list)]
        nested = [(k, v) for k, v in sorted(item.items()) if isinstance(v, dict | list)]
    else:
        scalars = [str(item.get(k, "")) for k in scalar_keys]
        nested = [(k, item[k]) for k in sorted(set(item) - set(scalar_keys))]
    if scalars:
        out.append("\t".join([identifier.upper(), *scalars] if identifier else scalars))
    for key, value in nested:
        _text(value, out, key)


def render(result: dict[str, Any], output: str = "json",
           query: ParsedResult | None = None) -> str | None:
    """The text to print for a result, or None when there is nothing to print: like the
    AWS CLI, an empty response (after dropping ResponseMetadata) prints nothing."""
    body: Any = {k: v for k, v in result.items() if k != "ResponseMetadata"}
    body = json.loads(json.dumps(body, default=_encode))  # timestamps and blobs as text
    if query is not None:
        body = query.search(body)
    if body == {}:
        return None
    if output == "text":
        lines: list[str] = []
        _text(body, lines)
        return "\n".join(lines) if lines else None
    return json.dumps(body, indent=4, ensure_ascii=False)


def write(result: dict[str, Any], stream: TextIO, output: str = "json",
          query: ParsedResult | None = None) -> None:
    text = render(result, output, query)
    if text is not None:
        stream.write(text + "\n")


