"""The contract between the gateway and a backend.

A backend handles each RPC with one async callable, found once at start-up (`handler_table`):
by default its method named after the RPC (the snake_case of the name). Proto request in,
proto response out, errors raised as `labelgate.errors` classes. Backends never see gRPC
types; the gateway's dispatcher calls them with a `RequestContext`. An RPC a backend does not
serve is named in its `unimplemented` set (callers get NotImplementedOperation); one neither
served nor named stops the gateway from starting.

Backends register in the entry-point group `labelgate.backends`; each entry point names a
class with a `from_config(settings, *, data_dir)` factory and, as `settings_type`, the
pydantic model of its `[backends.<name>]` table (a `BackendSettings`). The gateway validates
each configured table with that type when its settings load, so a bad or unknown key stops
the start with its dotted path (`backends.local.training_threads: ...`), and the backend
receives the typed object. `from_config` also accepts a plain mapping (validated the same
way). A backend without a `settings_type` receives its table as a plain dict.

Optional hook: a backend with `register_metrics(registry)` gets the gateway's Prometheus
`CollectorRegistry` before `start()`, so its own series (detect latency, inference units)
appear on the same /metrics page.

The labelgate extensions (server-streaming RPCs, `shapes.STREAMING_OPERATIONS`) are plain
methods that return an async iterator of response messages; errors may be raised when it is
first iterated.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from labelgate.shapes import OPERATIONS, STREAMING_OPERATIONS, snake_operation

BACKEND_ENTRY_POINT_GROUP = "labelgate.backends"
#: Every RPC of the service, from its descriptor: the AWS operations, then the extensions.
ALL_OPERATIONS: tuple[str, ...] = (*OPERATIONS, *STREAMING_OPERATIONS)


@dataclass(frozen=True)
class RequestContext:
    """What a backend may know about the call: never transport objects."""

    request_id: str
    operation: str
    metadata: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Message, RequestContext], Any]  # an awaitable, or an async iterator


@runtime_checkable
class Backend(Protocol):
    """Lifecycle, ARN ownership and one handler per operation of the service.

    Handlers are found once, at start-up (`handler_table`): a backend's `handlers()` when
    it has one, else its methods named after the operations (`create_project` for
    CreateProject). Every operation of the service must have a handler or be listed in
    `unimplemented`; anything else stops the gateway from starting, so a missing method is
    never first met by a caller.
    """

    name: str
    unimplemented: frozenset[str]

    async def start(self) -> None:
        """Open stores, resume background work. Health turns SERVING after every start()."""

    async def stop(self) -> None:
        """Finish or checkpoint background work and release resources."""

    def owns_arn(self, arn: str) -> bool:
        """True when `arn` names a resource this backend holds (routing by ARN)."""


# --- settings ------------------------------------------------------------------------------------


class BackendSettings(BaseModel):
    """Base of a backend's `settings_type`: one field per key of its `[backends.<name>]` table.

    Unknown keys are errors; an empty value (an environment variable set to nothing) means
    the key's default; a number given for a text key is taken as its text; immutable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value != ""}
        return data


class SettingsError(ValueError):
    """Settings with bad or unknown keys; `problems` holds (dotted path, what is wrong) pairs
    and the message names every one (`training_threads: must be an integer, got 'x'`)."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{dotted(path)}: {what}" for path, what in self.problems))


def dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path)


def settings_problems(error: ValidationError, model: type[BaseModel] | None = None
                      ) -> list[tuple[tuple[str | int, ...], str]]:
    """pydantic's errors as (path, words) pairs; a SettingsError raised by a validator (a
    nested table's) is unfolded under its path. `model` names the known keys of an unknown
    one."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for item in error.errors(include_url=False):
        path = tuple(item["loc"])
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, SettingsError):
            problems += [((*path, *inner), what) for inner, what in cause.problems]
        else:
            problems.append((path, _words(item, model if len(path) == 1 else None)))
    return problems


def _words(item: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    kind, ctx, got = item["type"], item.get("ctx") or {}, f"got {item.get('input')!r}"
    if kind == "extra_forbidden":
        known = f" (known: {', '.join(sorted(model.model_fields))})" if model else ""
        return f"unknown setting{known}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", item["msg"]))
    words = {
        "int_parsing": "must be an integer", "int_type": "must be an integer",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number", "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "bool_parsing": "must be true or false", "bool_type": "must be true or false",
        "string_type": "must be text", "dict_type": "must be a table",
        "model_type": "must be a table", "list_type": "must be a list",
        "tuple_type": "must be a list",
        "literal_error": f"must be {ctx.get('expected')}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
    }.get(kind)
    if words is None:
        words = item["msg"][:1].lower() + item["msg"][1:]
    return f"{words}, {got}"


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def validate_settings(settings_type: type[SettingsT], table: Any) -> SettingsT:
    """`table` (a mapping, or already a `settings_type`) as a `settings_type`; SettingsError
    naming each bad or unknown key."""
    if isinstance(table, settings_type):
        return table
    if not isinstance(table, Mapping):
        raise SettingsError([((), f"must be a table, got {table!r}")])
    try:
        return settings_type.model_validate(dict(table))
    except ValidationError as exc:
        raise SettingsError(settings_problems(exc, settings_type)) from None



def settings_part(keys_type: type[SettingsT], settings: Any) -> SettingsT:
    """The part of a backend's settings one component reads: `settings` as `keys_type`
    (typed settings that include it pass through; a mapping is read for its keys only)."""
    if isinstance(settings, keys_type):
        return settings
    return validate_settings(keys_type, {k: v for k, v in settings.items()
                                         if k in keys_type.model_fields})


class BackendBase:
    """Defaults for a backend: nothing to start or stop, no ARNs, nothing unimplemented."""

    name = "base"
    unimplemented: frozenset[str] = frozenset()
    #: The model of this backend's `[backends.<name>]` table; None: the backend receives
    #: its table as a plain dict, unchecked.
    settings_type: ClassVar[type[BackendSettings] | None] = None

    @classmethod
    def typed_settings(cls, config: Any) -> Any:
        """`config` as this backend's `settings_type` (a mapping is validated into it)."""
        if cls.settings_type is None:
            return dict(config)
        return validate_settings(cls.settings_type, config)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def owns_arn(self, arn: str) -> bool:
        return False


class IncompleteBackend(ValueError):
    """A backend has no handler for an operation it does not declare unimplemented."""


def methods_for(*providers: object) -> dict[str, Handler]:
    """{operation: bound method} for the methods of `providers` named after operations.

    One operation found on two providers is an error: which one answers must never depend
    on the order they are listed in.
    """
    table: dict[str, Handler] = {}
    for operation in ALL_OPERATIONS:
        found = [getattr(p, snake_operation(operation)) for p in providers
                 if callable(getattr(p, snake_operation(operation), None))]
        if len(found) > 1:
            raise IncompleteBackend(f"{operation} is implemented twice: {found}")
        if found:
            table[operation] = found[0]
    return table


def handler_table(backend: Backend) -> dict[str, Handler | None]:
    """Every operation's handler (None: declared unimplemented); IncompleteBackend when one
    is neither implemented nor declared."""
    provided = getattr(backend, "handlers", None)
    table: dict[str, Handler | None] = dict(provided() if callable(provided)
                                            else methods_for(backend))
    unknown = sorted(set(table) - set(ALL_OPERATIONS))
    if unknown:
        raise IncompleteBackend(f"backend {backend.name!r} has handlers for unknown "
                                f"operations: {', '.join(unknown)}")
    declared = frozenset(getattr(backend, "unimplemented", ()))
    missing = [op for op in ALL_OPERATIONS if op not in table and op not in declared]
    if missing:
        raise IncompleteBackend(
            f"backend {backend.name!r} implements neither these operations nor lists them "
            f"in `unimplemented`: {', '.join(missing)}")
    return {op: table.get(op) for op in ALL_OPERATIONS}


def undefined_operations(cls: type) -> frozenset[str]:
    """The operations `cls` has no method for (test backends that answer only a few)."""
    return frozenset(op for op in ALL_OPERATIONS
                     if not callable(getattr(cls, snake_operation(op), None)))


def available_backends() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed backends by name, from the `labelgate.backends` entry-point group."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=BACKEND_ENTRY_POINT_GROUP)}


def backend_settings_type(name: str) -> type[BaseModel] | None:
    """The `settings_type` of the backend installed as `name`; None when none is installed
    under that name or it declares none."""
    entry_point = available_backends().get(name)
    if entry_point is None:
        return None
    return getattr(entry_point.load(), "settings_type", None)


def load_backend(name: str, config: Any, *, data_dir: Path) -> Backend:
    """Instantiate the backend registered as `name` with its settings (its `settings_type`,
    or the table as a mapping)."""
    entry_points = available_backends()
    if name not in entry_points:
        known = ", ".join(sorted(entry_points)) or "none"
        raise ValueError(f"unknown backend {name!r} (installed: {known})")
    cls = entry_points[name].load()
    backend = cls.from_config(config, data_dir=data_dir)
    backend.name = name
    return backend
