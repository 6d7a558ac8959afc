"""Gateway settings: defaults < TOML file < `LABELGATE_*` environment < explicit overrides.

One typed tree: `Settings` (pydantic-settings) holds the gateway's keys, and `backends` holds
each backend's table validated into that backend's own settings type (its `settings_type`,
e.g. `LocalSettings` for `[backends.local]`), so every value is checked once, when the
settings load, and a bad one stops the start with a message naming its dotted key and where
it came from (`backends.local.training_threads: must be an integer, got 'x' (from
LABELGATE_BACKENDS__LOCAL__TRAINING_THREADS)`). Unknown keys are errors rather than silently
ignored, because a misspelt key that does nothing is the hardest config bug to see.

Every setting has a safe default (loopback only, data under `./.labelgate`), so the gateway
runs with no file and no environment at all. `Settings(...)` itself reads nothing but its
arguments; `load_settings` adds the file, environment and override layers (pydantic-settings
sources), each with its relative paths made absolute against its own base (the file's
folder; the working directory for the environment and overrides), and merges them in order:
a higher layer replaces a key, and backend tables merge key by key. docs/configuration.md
is the reference of every key.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from labelgate.backends.base import (
    SettingsError,
    backend_settings_type,
    dotted,
    settings_problems,
    validate_settings,
)

ENV_PREFIX = "LABELGATE_"
#: Separates the parts of a nested key's variable: LABELGATE_BACKENDS__LOCAL__DATABASE_URL.
ENV_NESTED_DELIMITER = "__"
#: Names the config file when `load_settings` is given no path (handy in containers).
CONFIG_ENV = "LABELGATE_CONFIG"
#: `metrics_port` value that binds any free port (tests read `Gateway.metrics_port`).
EPHEMERAL_METRICS_PORT = -1
MIB = 1024 * 1024
#: 5 MB images (DetectCustomLabels) and 5 MB dataset changes must fit with room for the
#: envelope; bigger payloads then reach our own size checks and get AWS's errors.
MIN_MESSAGE_BYTES = 6 * MIB
LOG_FORMATS = ("auto", "json", "text")
#: Keys of backend tables that name files or folders; each layer makes them absolute
#: (`database_url` too, when it is a SQLite file).
BACKEND_PATH_KEYS = frozenset({"triton_venv", "triton_repository"})


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use; the message names the setting."""


#: The layers `load_settings` is building from (highest first); empty otherwise, so that
#: `Settings(...)` reads nothing but its arguments.
_LAYERS: ContextVar[tuple[_Layer, ...]] = ContextVar("labelgate_settings_layers", default=())


class Settings(BaseSettings):
    """Everything the gateway process needs to know. Immutable: derive with `replace`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED_DELIMITER, extra="forbid",
        frozen=True, validate_default=True,
    )

    host: str = "127.0.0.1"
    port: int = 50051  # 0 binds any free port
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464  # 0 turns /metrics off; -1 binds any free port
    data_dir: Path = Path(".labelgate")
    default_backend: str = "local"
    # Backend name -> its settings: the backend's `settings_type` (a plain dict for a backend
    # that declares none or is not installed; loading it says so). Naming a default backend
    # is enough to load it; its table may stay empty.
    backends: dict[str, Any] = Field(default_factory=dict)
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"  # auto: JSON unless a terminal
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    max_message_bytes: int = 8 * MIB
    # The AWS-compatible HTTP front (aws_front.py): 0 = off (default), -1 = any free port.
    aws_host: str = "127.0.0.1"
    aws_port: int = 0
    # Access key id -> secret access key. When any are set, the AWS front verifies SigV4
    # signatures; when none are, it ignores them (a local endpoint).
    aws_access_keys: dict[str, str] = Field(default_factory=dict)
    # "required": every call must be signed with an access key of the identity directory
    # (server/identity/; the first start writes <data_dir>/root-credentials). "off": no
    # authentication (anyone who reaches the gateway may do anything); the gateway warns.
    auth: Literal["off", "required"] = "off"
    # The identity directory's database; None: SQLite in <data_dir>/identity.db.
    identity_database_url: str | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(settings_problems(exc, type(self)))) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Never the process environment or a dotenv file on their own: load_settings
        # supplies its layers (file, environment, overrides) while it builds.
        return (init_settings, *_LAYERS.get())

    # -- validation (the messages become "<dotted key>: <message>") --------------------
    @model_validator(mode="before")
    @classmethod
    def _default_backend_table(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("backends", {}), Mapping):
            data = dict(data)
            backends = dict(data.get("backends", {}))
            backends.setdefault(str(data.get("default_backend", "local")), {})
            data["backends"] = backends
        return data

    @field_validator("port")
    @classmethod
    def _port(cls, port: int) -> int:
        if not 0 <= port <= 65535:
            raise ValueError(f"must be 0..65535, got {port}")
        return port

    @field_validator("metrics_port", "aws_port")
    @classmethod
    def _optional_port(cls, port: int) -> int:
        if not EPHEMERAL_METRICS_PORT <= port <= 65535:
            raise ValueError(f"must be -1..65535, got {port}")
        return port

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, data_dir: Path) -> Path:
        # Absolute from here on: workers and runtimes run in folders of their own, so a
        # relative path would be resolved a second time against the wrong directory.
        return _absolute(data_dir, Path.cwd())

    @field_validator("default_backend")
    @classmethod
    def _default_backend(cls, name: str) -> str:
        if not name:
            raise ValueError("must name a backend")
        return name

    @field_validator("backends", mode="before")
    @classmethod
    def _tables(cls, value: Any) -> Any:
        if not isinstance(value, Mapping) or not all(
                isinstance(t, Mapping | BaseModel) for t in value.values()):
            raise ValueError("must be tables, e.g. [backends.local]")
        return {str(name): table for name, table in value.items()}

    @field_validator("backends")
    @classmethod
    def _typed_tables(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Each table as its backend's settings type (SettingsError naming every bad key
        under its `<name>.<key>`)."""
        typed: dict[str, Any] = {}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for name, table in value.items():
            settings_type = backend_settings_type(name)
            if settings_type is None:
                typed[name] = dict(table) if isinstance(table, Mapping) else table
                continue
            try:
                typed[name] = validate_settings(settings_type, table)
            except SettingsError as exc:
                problems += [((name, *path), what) for path, what in exc.problems]
        if problems:
            raise SettingsError(problems)
        return typed

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, level: Any) -> Any:
        level = str(level).upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"{level!r} is not a logging level")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("max_message_bytes")
    @classmethod
    def _max_message_bytes(cls, size: int) -> int:
        if size < MIN_MESSAGE_BYTES:
            raise ValueError(f"must be at least {MIN_MESSAGE_BYTES} (6 MiB) so 5 MB images and "
                             f"dataset changes fit, got {size}")
        return size

    @field_validator("aws_access_keys", mode="before")
    @classmethod
    def _access_keys(cls, value: Any) -> Any:
        """A table {key id = secret}, or text "ID:SECRET[,ID:SECRET...]" (environment)."""
        if not isinstance(value, str):
            return value
        pairs = [p.strip() for p in value.split(",") if p.strip()]
        keys = dict(p.split(":", 1) for p in pairs if ":" in p)
        if len(keys) != len(pairs):
            raise ValueError("must be ID:SECRET pairs, comma separated")
        return keys

    # -- use ----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """`host:port` as configured (the bound port may differ when port is 0)."""
        return _join_host_port(self.host, self.port)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, validated like any settings."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise TypeError(f"replace() got unknown setting(s): {', '.join(unknown)}")
        current = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**current, **changes})


def dial_address(host: str, port: int) -> str:
    """The address a client on this machine dials to reach a server bound to `host`: a
    wildcard bind is reached on loopback."""
    if host in ("0.0.0.0", ""):
        return _join_host_port("127.0.0.1", port)
    if host in ("::", "[::]"):
        return _join_host_port("::1", port)
    return _join_host_port(host, port)


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- paths --------------------------------------------------------------------------------------


def _absolute(path: str | Path, base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else base / path


def _absolute_sqlite_url(url: str, base: Path) -> str:
    """`sqlite:///relative.db` names a file relative to the process's directory: anchor it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # not a URL: the backend says so when it opens the database
    database = parsed.database
    if (not parsed.drivername.startswith("sqlite") or not database or database == ":memory:"
            or database.startswith("file:") or Path(database).is_absolute()):
        return url
    return parsed.set(database=str(base / database)).render_as_string(hide_password=False)


def _absolute_paths(values: dict[str, Any], base: Path) -> dict[str, Any]:
    """One layer's relative paths made absolute against `base`: the config file's folder
    for the file, the working directory for flags and environment."""
    values = dict(values)
    if isinstance(values.get("data_dir"), str | Path):
        values["data_dir"] = _absolute(values["data_dir"], base)
    if isinstance(values.get("identity_database_url"), str):
        values["identity_database_url"] = _absolute_sqlite_url(values["identity_database_url"],
                                                               base)
    tables = values.get("backends")
    if not isinstance(tables, Mapping):
        return values  # not tables: validation says so
    anchored: dict[str, Any] = {}
    for name, table in tables.items():
        if isinstance(table, Mapping):
            table = dict(table)
            for key in BACKEND_PATH_KEYS & table.keys():
                if isinstance(table[key], str | Path) and table[key]:
                    table[key] = str(_absolute(str(table[key]), base))
            if isinstance(table.get("database_url"), str):
                table["database_url"] = _absolute_sqlite_url(table["database_url"], base)
        anchored[name] = table
    values["backends"] = anchored
    return values


# --- layers ---------------------------------------------------------------------------------------


class _Layer(PydanticBaseSettingsSource):
    """A source of `load_settings`: its values, paths anchored, and where a key came from."""

    values: dict[str, Any]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ returns the whole layer

    def __call__(self) -> dict[str, Any]:
        return self.values

    def has(self, path: tuple[str | int, ...]) -> bool:
        node: Any = self.values
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    def origin(self, path: tuple[str | int, ...]) -> str:
        raise NotImplementedError


class _FileLayer(_Layer):
    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = TomlConfigSettingsSource(settings_cls, toml_file=path)()
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        self.path = path
        # A relative path in a file means "next to this file", so it works from any cwd.
        self.values = _absolute_paths(raw, path.absolute().parent)

    def origin(self, path: tuple[str | int, ...]) -> str:
        return f"config file {self.path}"


class _EnvironmentLayer(_Layer):
    """`LABELGATE_<KEY>` and `LABELGATE_BACKENDS__<NAME>__<KEY>` from `env` (pydantic-settings'
    environment source, reading the given mapping; values stay text, the types parse it)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)

        class Source(EnvSettingsSource):
            def decode_complex_value(self, field_name: str, field: Any, value: Any) -> Any:
                return value  # no JSON: an account id "000000000000" stays text

        tables = f"{ENV_PREFIX}BACKENDS{ENV_NESTED_DELIMITER}"
        for key in env:
            parts = key.upper().removeprefix(tables).split(ENV_NESTED_DELIMITER)
            if key.upper().startswith(tables) and (len(parts) != 2 or not all(parts)):
                raise ConfigError(f"{key}: expected {tables}<NAME>{ENV_NESTED_DELIMITER}<KEY>")
        source = Source(settings_cls)
        source.env_vars = {k.lower(): v for k, v in env.items() if k != CONFIG_ENV}
        self.values = _absolute_paths(source(), Path.cwd())

    @staticmethod
    def variable(path: tuple[str | int, ...]) -> str:
        return ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(p) for p in path).upper()

    def origin(self, path: tuple[str | int, ...]) -> str:
        return f"from {self.variable(path)}"


class _OverrideLayer(_Layer):
    def __init__(self, settings_cls: type[BaseSettings], overrides: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        values = InitSettingsSource(settings_cls, init_kwargs=dict(overrides))()
        self.values = _absolute_paths(values, Path.cwd())

    def origin(self, path: tuple[str | int, ...]) -> str:
        return f"from the {path[0]} option"


def _describe(problems: list[tuple[tuple[str | int, ...], str]]) -> str:
    """One `<dotted key>: <what> (<where>)` per problem; where: the highest layer that set
    the key (or the table holding it), when settings are being loaded."""
    layers = _LAYERS.get()
    lines = []
    for path, what in problems:
        where = next((layer.origin(path[:n]) for n in range(len(path), 0, -1)
                      for layer in layers if layer.has(path[:n])), None)
        lines.append(f"{dotted(path)}: {what}" + (f" ({where})" if where else ""))
    return "; ".join(lines)


@contextmanager
def _building(layers: tuple[_Layer, ...]) -> Iterator[None]:
    token = _LAYERS.set(layers)
    try:
        yield
    finally:
        _LAYERS.reset(token)


def load_settings(
    config_path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from defaults, then the TOML file, then `LABELGATE_*`, then `overrides`.

    `env` defaults to `os.environ`; `LABELGATE_CONFIG` names the file when `config_path` is
    None. Overrides that are None are ignored, so CLI options can be passed straight through.
    Backend tables merge key by key across layers rather than replacing each other.
    """
    env = os.environ if env is None else env
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"load_settings() got unknown setting(s): {', '.join(unknown)}")
    path = config_path if config_path is not None else env.get(CONFIG_ENV) or None
    layers: list[_Layer] = [
        _OverrideLayer(Settings, {k: v for k, v in overrides.items() if v is not None}),
        _EnvironmentLayer(Settings, env),
    ]
    if path is not None:
        layers.append(_FileLayer(Settings, Path(path)))
    with _building(tuple(layers)):
        return Settings()


__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "EPHEMERAL_METRICS_PORT",
    "MIN_MESSAGE_BYTES",
    "ConfigError",
    "Settings",
    "dial_address",
    "load_settings",
]
