"""Gateway settings: defaults < TOML file < `LABELGATE_*` environment < explicit overrides.

Every setting has a safe default (loopback only, data under `./.labelgate`), so the gateway
runs with no file and no environment at all. Unknown keys in the file are errors rather than
silently ignored, because a misspelt key that does nothing is the hardest config bug to see.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "LABELGATE_"
#: Names the config file when `load_settings` is given no path (handy in containers).
CONFIG_ENV = "LABELGATE_CONFIG"
#: `metrics_port` value that binds any free port (tests read `Gateway.metrics_port`).
EPHEMERAL_METRICS_PORT = -1
MIB = 1024 * 1024
#: 5 MB images (DetectCustomLabels) and 5 MB dataset changes must fit with room for the
#: envelope; bigger payloads then reach our own size checks and get AWS's errors.
MIN_MESSAGE_BYTES = 6 * MIB
LOG_FORMATS = ("auto", "json", "text")
#: Keys of backend tables that name files or folders; they are made absolute with data_dir
#: (`database_url` too, when it is a SQLite file).
BACKEND_PATH_KEYS = frozenset({"triton_venv", "triton_repository"})


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Everything the gateway process needs to know. Immutable: derive with `replace`."""

    host: str = "127.0.0.1"
    port: int = 50051  # 0 binds any free port
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464  # 0 turns /metrics off; -1 binds any free port
    data_dir: Path = Path(".labelgate")
    default_backend: str = "local"
    # Backend name -> its config table, passed to the backend's `from_config`.
    backends: dict[str, dict[str, Any]] = field(default_factory=lambda: {"local": {}})
    log_level: str = "INFO"
    log_format: str = "auto"  # auto: JSON lines unless stderr is a terminal
    shutdown_grace_seconds: float = 10.0
    max_message_bytes: int = 8 * MIB
    # The AWS-compatible HTTP front (aws_front.py): 0 = off (default), -1 = any free port.
    aws_host: str = "127.0.0.1"
    aws_port: int = 0
    # Access key id -> secret access key. When any are set, the AWS front verifies SigV4
    # signatures; when none are, it ignores them (a local endpoint).
    aws_access_keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Coerce first so values from TOML/env/kwargs all end up the declared types.
        # Absolute from here on: workers and runtimes run in folders of their own, so a
        # relative path would be resolved a second time against the wrong directory.
        object.__setattr__(self, "data_dir", _absolute(self.data_dir, Path.cwd()))
        object.__setattr__(self, "log_level", str(self.log_level).upper())
        object.__setattr__(self, "log_format", str(self.log_format).lower())
        backends = {str(k): dict(v) for k, v in self.backends.items()}
        # Naming a default backend is enough to load it; its table may stay empty.
        backends.setdefault(self.default_backend, {})
        object.__setattr__(self, "backends", backends)
        self._check()

    def _check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        if not EPHEMERAL_METRICS_PORT <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics_port must be -1..65535, got {self.metrics_port}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {LOG_FORMATS}, got {self.log_format!r}")
        if not isinstance(logging.getLevelName(self.log_level), int):
            raise ConfigError(f"log_level {self.log_level!r} is not a logging level")
        if self.shutdown_grace_seconds < 0:
            raise ConfigError("shutdown_grace_seconds must not be negative")
        if self.max_message_bytes < MIN_MESSAGE_BYTES:
            raise ConfigError(
                f"max_message_bytes must be at least {MIN_MESSAGE_BYTES} (6 MiB) so 5 MB "
                f"images and dataset changes fit, got {self.max_message_bytes}"
            )
        if not EPHEMERAL_METRICS_PORT <= self.aws_port <= 65535:
            raise ConfigError(f"aws_port must be -1..65535, got {self.aws_port}")
        if not self.default_backend:
            raise ConfigError("default_backend must name a backend")

    @property
    def address(self) -> str:
        """`host:port` as configured (the bound port may differ when port is 0)."""
        return _join_host_port(self.host, self.port)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


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


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_INT_FIELDS = {"port", "metrics_port", "max_message_bytes", "aws_port"}
_FLOAT_FIELDS = {"shutdown_grace_seconds"}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Environment values are text; turn them into the field's type with a clear error."""
    try:
        if name in _INT_FIELDS:
            return int(value)
        if name in _FLOAT_FIELDS:
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} must be a number, got {value!r}") from None
    if name == "data_dir":
        return Path(value)
    if name == "aws_access_keys":
        return _access_keys(value, source)
    if name == "backends":
        if not isinstance(value, Mapping) or not all(
            isinstance(t, Mapping) for t in value.values()
        ):
            raise ConfigError(f"{source}: backends must be tables, e.g. [backends.local]")
        return {str(k): dict(v) for k, v in value.items()}
    return value


def _access_keys(value: Any, source: str) -> dict[str, str]:
    """A table {key id = secret}, or text "ID:SECRET[,ID:SECRET...]" (environment)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    pairs = [p.strip() for p in str(value).split(",") if p.strip()]
    keys = dict(p.split(":", 1) for p in pairs if ":" in p)
    if len(keys) != len(pairs):
        raise ConfigError(f"{source}: aws_access_keys must be ID:SECRET pairs, comma separated")
    return keys


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from None
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    values = {k: _coerce(k, v, str(path)) for k, v in raw.items()}
    # A relative path in a file means "next to this file", so the file works from any cwd.
    return _absolute_paths(values, path.absolute().parent)


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
    if "data_dir" in values:
        values["data_dir"] = _absolute(values["data_dir"], base)
    tables = {}
    for name, table in values.get("backends", {}).items():
        table = dict(table)
        for key in BACKEND_PATH_KEYS & table.keys():
            if table[key]:
                table[key] = str(_absolute(str(table[key]), base))
        if isinstance(table.get("database_url"), str):
            table["database_url"] = _absolute_sqlite_url(table["database_url"], base)
        tables[name] = table
    if tables:
        values["backends"] = tables
    return values


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    backends: dict[str, dict[str, Any]] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key.removeprefix(ENV_PREFIX).lower()
        if name.startswith("backends__"):
            # LABELGATE_BACKENDS__LOCAL__DATABASE_URL -> backends["local"]["database_url"]
            parts = name.split("__")
            if len(parts) != 3 or not all(parts):
                raise ConfigError(f"{key}: expected LABELGATE_BACKENDS__<NAME>__<KEY>")
            backends.setdefault(parts[1], {})[parts[2]] = value
        elif name in _FIELDS and name != "backends":
            values[name] = _coerce(name, value, key)
        # Other LABELGATE_* variables belong to other tools (CLI, tests); leave them alone.
    if backends:
        values["backends"] = backends
    return values


def _merge_backends(base: dict[str, dict[str, Any]], extra: Mapping[str, Mapping[str, Any]]
                    ) -> dict[str, dict[str, Any]]:
    merged = {name: dict(table) for name, table in base.items()}
    for name, table in extra.items():
        merged.setdefault(name, {}).update(table)
    return merged


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
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise TypeError(f"load_settings() got unknown setting(s): {', '.join(unknown)}")

    values: dict[str, Any] = {"backends": {}}
    path = config_path if config_path is not None else env.get(CONFIG_ENV) or None
    layers = [_from_file(Path(path))] if path is not None else []
    cwd = Path.cwd()
    layers.append(_absolute_paths(_from_env(env), cwd))
    layers.append(_absolute_paths(
        {k: _coerce(k, v, "override") for k, v in overrides.items() if v is not None}, cwd))
    for layer in layers:
        for name, value in layer.items():
            if name == "backends":
                values["backends"] = _merge_backends(values["backends"], value)
            else:
                values[name] = value
    if not values["backends"]:
        # No tables anywhere: load just the default backend (with its defaults).
        values["backends"] = {values.get("default_backend", Settings.default_backend): {}}
    return Settings(**values)
