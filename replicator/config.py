"""The configuration file: one TOML document, decoded and validated by msgspec.

A bad file gets one error naming the key and what was expected, and nothing
starts. Secrets may come from the environment instead of the file
(``client_secret_env = "EXACT_CLIENT_SECRET"``). See ``config/replicator.example.toml``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated

import msgspec

from replicator.errors import ConfigError

_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"


class StoreConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Where the replica lives: ``sqlite:///path`` or a plain path (relative to the file)."""

    url: str = "sqlite:///replica.sqlite"


class LimitsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Process-wide limits."""

    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 64
    max_records_in_flight: Annotated[int, msgspec.Meta(ge=1)] = 16_000
    pool_size: Annotated[int, msgspec.Meta(ge=1, le=10000)] | None = None
    request_timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 60.0
    batch_pages: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 6


class ConnectionConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, repr_omit_defaults=True):
    """One OAuth connection (an app authorised by one licence) of one provider."""

    def __repr__(self) -> str:  # secrets written in the file must not reach a log
        shown = {k: ("***" if k in ("client_secret", "refresh_token") and v else v)
                 for k, v in msgspec.structs.asdict(self).items() if v not in (None, [], {})}
        return f"ConnectionConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    provider: str
    base_url: str | None = None
    client_id: str | None = None
    client_id_env: str | None = None
    client_secret: str | None = None
    client_secret_env: str | None = None
    refresh_token: str | None = None
    refresh_token_env: str | None = None
    resources: list[str] | None = None
    tenants: list[str] | None = None
    fields: dict[str, list[str]] = {}
    options: dict[str, str | int | float | bool] = {}


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    connections: dict[str, ConnectionConfig] = {}


class Secrets(msgspec.Struct, frozen=True):
    """A connection's credentials, resolved from the file or the environment."""

    client_id: str
    client_secret: str
    refresh_token: str | None

    def __repr__(self) -> str:  # never print a secret, even in a debugger
        return f"Secrets(client_id={self.client_id!r}, client_secret=***, refresh_token=***)"


def _msgspec_path(message: str, prefix: str = "") -> str:
    """"Expected `int`, got `str` - at `$.limits.max_in_flight`" -> "limits.max_in_flight: ..."."""
    match = re.search(r" - at `\$(.*)`$", message)
    path, text = (match.group(1), message[: match.start()]) if match else ("", message)
    where = (prefix + path).lstrip(".")
    return f"{where}: {text}" if where else text


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate ``path``.

    Raises:
        ConfigError: the file is missing, not TOML, or has a wrong key or value.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
    return parse(raw, source=str(file), base_dir=file.parent)


def parse(raw: bytes | str, *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    try:
        document = tomllib.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    connections = document.pop("connections", {})
    try:
        config = msgspec.convert(document, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_msgspec_path(str(exc))}") from None
    if not isinstance(connections, dict):
        raise ConfigError(f"{source}: connections: expected a table of named connections")
    for name, table in connections.items():
        if not re.match(_NAME, name):
            raise ConfigError(f"{source}: connections.{name}: a connection name starts with a "
                              "letter and has only letters, digits, '_' and '-' (at most 63)")
        for sub in ("fields", "options"):
            # msgspec hides dict keys behind "[...]": check entries one by one to name them.
            entries = table.get(sub) if isinstance(table, dict) else None
            if isinstance(entries, dict):
                item_type = list[str] if sub == "fields" else str | int | float | bool
                for entry, value in entries.items():
                    try:
                        msgspec.convert(value, item_type)
                    except msgspec.ValidationError as exc:
                        raise ConfigError(f"{source}: " + _msgspec_path(
                            str(exc), f"connections.{name}.{sub}.{entry}")) from None
        try:
            config.connections[name] = msgspec.convert(table, ConnectionConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(
                f"{source}: {_msgspec_path(str(exc), f'connections.{name}')}") from None
    for name, conn in config.connections.items():
        key = f"connections.{name}"
        if conn.base_url is not None and not re.fullmatch(r"https?://[^/\s?#]+(/\S*)?", conn.base_url):
            raise ConfigError(f"{source}: {key}.base_url: expected an http(s) URL, got "
                              f"{conn.base_url!r}")
        for field in ("client_id", "client_secret", "refresh_token"):
            if getattr(conn, field) is not None and getattr(conn, f"{field}_env") is not None:
                raise ConfigError(f"{source}: {key}: set {field} or {field}_env, not both")
    if base_dir is not None:
        config.store.url = _resolve_store(config.store.url, base_dir)
    return config


def _resolve_store(url: str, base_dir: Path) -> str:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return f"sqlite:///{path if path.is_absolute() else base_dir / path}"
    if "://" not in url:
        path = Path(url)
        return f"sqlite:///{path if path.is_absolute() else base_dir / path}"
    return url


def secrets(name: str, conn: ConnectionConfig, env: os._Environ[str] | dict[str, str] | None = None) -> Secrets:
    """Resolve a connection's credentials (file value, else the named variable).

    Raises:
        ConfigError: a credential is missing; the message names the key and variable.
    """
    env = os.environ if env is None else env

    def get(field: str, required: bool) -> str | None:
        value: str | None = getattr(conn, field)
        var: str | None = getattr(conn, f"{field}_env")
        if value is None and var is not None:
            value = env.get(var)
            if value is None and required:
                raise ConfigError(f"connections.{name}.{field}_env: environment variable {var} is "
                                  "not set")
        if value is None and required:
            raise ConfigError(f"connections.{name}: {field} (or {field}_env) is required")
        return value

    client_id = get("client_id", True)
    client_secret = get("client_secret", True)
    assert client_id is not None and client_secret is not None
    return Secrets(client_id, client_secret, get("refresh_token", False))
