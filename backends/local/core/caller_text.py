"""Text fit for a caller: what the API says must not show the server's insides.

Exception messages from libraries name files by their server path (Pillow, the OS, ONNX
Runtime) and sometimes carry tracebacks; a status message built from one goes through
`scrub` first. The gateway's own log keeps the unscrubbed text for operators.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Longest explanation kept from an exception: StatusMessage is a line, not a report.
MAX_DETAIL_CHARS = 300

# An absolute POSIX or Windows path where a word starts, up to the next quote, space or bracket
# ("and/or" and "1000/50" are words, not paths).
_PATH = re.compile(r"(?<![\w./])(?:[A-Za-z]:\\|/)[^\s'\"()\[\]<>,;]+")
# A relative path into the server's own folders (`./.labelgate/...`, `../x`).
_RELATIVE = re.compile(r"(?<![\w/])\.{1,2}/[^\s'\"()\[\]<>,;]+")
# URLs (s3:// source-refs, the S3 endpoint) are what the caller knows things by: kept.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.I)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.I)
_TRACEBACK_LINE = re.compile(r"^\s*(Traceback \(most recent call last\)|File \".*\", line \d+)")


def scrub(text: str, images: Mapping[str, str] | None = None) -> str:
    """`text` fit for a caller: server copies of images become their source-refs, any other
    absolute path becomes `<server path>`, traceback lines are dropped, and it is one line
    of at most MAX_DETAIL_CHARS characters."""
    for local, source_ref in sorted((images or {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(local, source_ref)
    lines = [line for line in text.splitlines() if not _TRACEBACK_LINE.match(line)]
    text = " ".join(line.strip() for line in lines if line.strip())
    # URLs are set aside while paths are replaced, so `//bucket/key` stays whole.
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        url = match.group(0)
        if url.lower().startswith("file:"):
            return "<server path>"  # a file URL is a server path by another name
        kept.append(_USERINFO.sub(r"\1", url))  # never a URL's credentials
        return f"\x00{len(kept) - 1}\x00"

    text = _URL.sub(keep, text)
    text = _PATH.sub("<server path>", text)
    text = _RELATIVE.sub("<server path>", text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 1].rstrip() + "…"
    return text


__all__ = ["MAX_DETAIL_CHARS", "scrub"]
