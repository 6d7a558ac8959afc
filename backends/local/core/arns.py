"""Local ARNs: the AWS layout under partition `labelgate`, region `local`.

`arn:labelgate:rekognition:local:000000000000:project/<name>/<epoch-millis>`, and for its
children `.../project/<name>/version/<version>/<millis>` and
`.../project/<name>/dataset/(train|test)/<millis>` (children hang off the project *name*, as
in AWS), so every ARN satisfies the API model's patterns and client code that cuts ARNs at
`/` still works.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass

PARTITION = "labelgate"
DEFAULT_REGION = "local"
DEFAULT_ACCOUNT = "000000000000"

_NAME = r"[a-zA-Z0-9_.\-]{1,255}"
_PREFIX = r"^arn:([a-z\d-]+):rekognition:([a-z\d-]+):(\d{12}):project/"
_PROJECT_RE = re.compile(_PREFIX + rf"({_NAME})/(\d+)$")
_VERSION_RE = re.compile(_PREFIX + rf"({_NAME})/version/({_NAME})/(\d+)$")
_DATASET_RE = re.compile(_PREFIX + rf"({_NAME})/dataset/(train|test)/(\d+)$")


@dataclass(frozen=True)
class ParsedArn:
    kind: str  # project | version | dataset
    partition: str
    region: str
    account: str
    project_name: str
    child_name: str | None = None  # version name or dataset type (lower case)
    stamp: str = ""


def parse(arn: str) -> ParsedArn | None:
    """Split a Custom Labels ARN into its parts; None when it is not one."""
    if m := _VERSION_RE.match(arn):
        return ParsedArn("version", *m.groups())
    if m := _DATASET_RE.match(arn):
        return ParsedArn("dataset", *m.groups())
    if m := _PROJECT_RE.match(arn):
        partition, region, account, name, stamp = m.groups()
        return ParsedArn("project", partition, region, account, name, stamp=stamp)
    return None


def creation_time(arn: str) -> dt.datetime:
    """The creation time an ARN's trailing epoch-millis stamp encodes (as in AWS ARNs)."""
    parsed = parse(arn)
    assert parsed is not None, arn
    return dt.datetime.fromtimestamp(int(parsed.stamp) / 1000, dt.UTC)


class ArnFactory:
    """Mints ARNs for one installation; stamps are strictly increasing epoch millis."""

    def __init__(self, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> None:
        self.region = region
        self.account = account
        self.prefix = f"arn:{PARTITION}:rekognition:{region}:{account}:"
        self._last = 0
        self._lock = threading.Lock()

    def _stamp(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, int(time.time() * 1000))
            return self._last

    def project(self, name: str) -> str:
        return f"{self.prefix}project/{name}/{self._stamp()}"

    def version(self, project_name: str, name: str) -> str:
        return f"{self.prefix}project/{project_name}/version/{name}/{self._stamp()}"

    def dataset(self, project_name: str, dataset_type: str) -> str:
        return f"{self.prefix}project/{project_name}/dataset/{dataset_type.lower()}/{self._stamp()}"

    def owns(self, arn: str) -> bool:
        return arn.startswith(self.prefix)
