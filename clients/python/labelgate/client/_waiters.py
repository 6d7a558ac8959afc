"""Waiters: poll a Describe operation until a status is reached, like boto3's waiters.

Each waiter is data in the shape of botocore's `waiters-2.json` (operation, delay, max
attempts, acceptors with `path` / `pathAll` / `pathAny` matchers), evaluated against the
AWS-shaped response, so the two AWS waiters (`ProjectVersionTrainingCompleted`,
`ProjectVersionRunning`) behave exactly as boto3's do, including their edge cases: `pathAll`
on an empty list does not match (waiting on unknown version names runs out of attempts
rather than succeeding), the first poll happens at once and `delay` sleeps between polls.
The dataset and stop waiters are labelgate's own, in the same form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from google.protobuf.message import Message

from labelgate import errors, shapes

_M = TypeVar("_M", bound=Message)


class WaiterError(errors.LabelgateError):
    """A waiter stopped without success: a failure state was reached, or attempts ran out.

    `name` is the waiter (`DatasetCreated`), `reason` says why, `last_response` is the last
    Describe response (a proto message) or None.
    """

    code: ClassVar[str] = "WaiterError"

    def __init__(self, message: str = "", *, name: str = "", reason: str = "",
                 last_response: Message | None = None, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.name = name
        self.reason = reason
        self.last_response = last_response


@dataclass(frozen=True)
class Acceptor:
    """One waiters-2.json acceptor: `state` when `matcher` finds `expected` at the path."""

    state: Literal["success", "failure", "retry"]
    matcher: Literal["path", "pathAll", "pathAny"]
    expected: str

    def matches(self, value: Any) -> bool:
        if self.matcher == "path":
            return value == self.expected
        if not isinstance(value, list) or not value:  # as botocore: [] never matches
            return False
        if self.matcher == "pathAll":
            return all(v == self.expected for v in value)
        return any(v == self.expected for v in value)


@dataclass(frozen=True)
class WaiterModel:
    """A waiter definition. `items` points at the described objects (`X[]` projects a list);
    their `Status` is matched and their `StatusMessage` explains a failure."""

    name: str
    operation: str
    items: str
    delay: float
    max_attempts: int
    acceptors: tuple[Acceptor, ...]
    id_key: str | None = None

    @property
    def argument(self) -> str:
        return f"{self.items}.Status"


def _versions(name: str, delay: float, attempts: int, success: str, failure: str) -> WaiterModel:
    return WaiterModel(name, "DescribeProjectVersions", "ProjectVersionDescriptions[]", delay,
                       attempts, (Acceptor("success", "pathAll", success),
                                  Acceptor("failure", "pathAny", failure)),
                       id_key="ProjectVersionArn")


def _dataset(name: str, success: str, failure: str) -> WaiterModel:
    return WaiterModel(name, "DescribeDataset", "DatasetDescription", 5, 360,
                       (Acceptor("success", "path", success),
                        Acceptor("failure", "path", failure)))


#: Every waiter by name. The AWS ones copy botocore's waiters-2.json for rekognition.
WAITERS: dict[str, WaiterModel] = {w.name: w for w in (
    _dataset("DatasetCreated", "CREATE_COMPLETE", "CREATE_FAILED"),
    _dataset("DatasetUpdated", "UPDATE_COMPLETE", "UPDATE_FAILED"),
    _versions("ProjectVersionTrainingCompleted", 120, 360, "TRAINING_COMPLETED",
              "TRAINING_FAILED"),
    _versions("ProjectVersionRunning", 30, 40, "RUNNING", "FAILED"),
    _versions("ProjectVersionStopped", 30, 40, "STOPPED", "FAILED"),
)}


def _items(data: dict[str, Any], path: str) -> list[dict[str, Any]] | dict[str, Any] | None:
    if path.endswith("[]"):
        return list(data.get(path[:-2]) or [])
    return data.get(path)


def _statuses(items: Any) -> Any:
    if isinstance(items, list):
        return [item.get("Status") for item in items]
    return items.get("Status") if isinstance(items, dict) else None


def _failure_detail(model: WaiterModel, items: Any, state: str) -> str:
    objects = items if isinstance(items, list) else [items] if isinstance(items, dict) else []
    parts = []
    for obj in objects:
        if obj.get("Status") != state:
            continue
        text = obj.get("StatusMessage") or "(no status message)"
        who = obj.get(model.id_key) if model.id_key else None
        parts.append(f"{who}: {text}" if who else text)
    return f"{state}: " + "; ".join(parts) if parts else state


def wait(model: WaiterModel, describe: Callable[[], _M], *, delay: float | None = None,
         max_attempts: int | None = None,
         sleep: Callable[[float], None] = time.sleep) -> _M:
    """Call `describe` until an acceptor decides; return the successful response.

    Raises WaiterError on a failure state or when attempts run out; errors raised by
    `describe` itself (ResourceNotFoundException, a lost connection) propagate unchanged.
    """
    delay = model.delay if delay is None else delay
    attempts = model.max_attempts if max_attempts is None else max_attempts
    if attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {attempts}")
    if delay < 0:
        raise ValueError(f"delay must not be negative, not {delay}")
    response: _M | None = None
    last: Any = None
    for attempt in range(1, attempts + 1):
        response = describe()
        items = _items(shapes.to_aws(response, include_empty=True), model.items)
        last = _statuses(items)
        for acceptor in model.acceptors:
            if not acceptor.matches(last):
                continue
            if acceptor.state == "success":
                return response
            if acceptor.state == "failure":
                detail = _failure_detail(model, items, acceptor.expected)
                raise WaiterError(
                    f"Waiter {model.name} failed: Waiter encountered a terminal failure "
                    f"state: {detail}", name=model.name, reason=detail,
                    last_response=response)
            break  # "retry": poll again
        if attempt < attempts:
            sleep(delay)
    raise WaiterError(
        f"Waiter {model.name} failed: Max attempts exceeded ({attempts}); "
        f"last {model.argument}: {last}",
        name=model.name, reason="Max attempts exceeded", last_response=response)
