"""Server configuration: where tenants' data lives, which credentials map to which tenant,
which Host names the server answers to. Everything is checked before the server starts."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._settings import Settings
from ..errors import ConfigurationError

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_TOKEN_TTL = 30 * 86400
_DIGEST = re.compile(r"^[0-9A-Fa-f]{64}$")
_HOST_NAME = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$|^\[?[0-9A-Fa-f:.]+\]?$"
)
# userinfo in anything URL-shaped, also after a Path collapsed "//" into "/"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*:/{1,2})([^/@\s]+)@")
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
_POSTGRES = re.compile(r"(?i)^postgres(?:ql)?:/")


def token_hash(token: str) -> str:
    """Tokens are kept (and compared) only as SHA-256 digests."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_tenant(name: str) -> str:
    if not TENANT_NAME.match(name):
        raise ConfigurationError(
            f"tenant name {name!r} is invalid: use 1-63 letters, digits, '-' or '_', "
            "starting with a letter or digit (it becomes a directory name)"
        )
    return name


def redact_location(text: str) -> str:
    """``text`` with the password (or the whole userinfo, when it has none) of every
    URL-shaped part replaced by ``***``: locations are safe to print and log."""

    def hide(match: re.Match[str]) -> str:
        user, colon, _ = match.group(2).partition(":")
        return f"{match.group(1)}{user + ':***' if colon else '***'}@"

    return _USERINFO.sub(hide, text)


def _postgres_refusal(location: str) -> ConfigurationError:
    return ConfigurationError(
        f"PostgreSQL storage is not supported by the server yet (a later release adds it), so "
        f"{redact_location(location)} was not used: serve SQLite files with --data-dir DIR "
        "or --path FILE"
    )


def store_location(path: Path | None, url: str | None) -> Path | None:
    """The single store ``--path`` / ``--url`` name, or None for ``--data-dir``.

    Anything the server cannot honour is refused (never reinterpreted as a file name).
    """
    if path is not None and url is not None:
        raise ConfigurationError("pass --path FILE or --url sqlite:///FILE, not both")
    if url is None:
        return path
    if _POSTGRES.match(url):
        raise _postgres_refusal(url)
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///") :]
        if rest in ("", ":memory:"):
            raise ConfigurationError(
                "the server cannot serve an in-memory SQLite store (each connection would "
                "see its own empty database): pass sqlite:///FILE or --path FILE"
            )
        return Path(rest)
    if url.startswith("sqlite://"):
        raise ConfigurationError(
            f"{redact_location(url)}: write SQLite URLs as sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    if "://" in url:
        raise ConfigurationError(
            f"--url {redact_location(url)} cannot be served: the server stores memory in "
            "SQLite files; pass --url sqlite:///FILE, --path FILE or --data-dir DIR"
        )
    raise ConfigurationError(
        f"--url takes a sqlite:/// URL; for a file path use --path {redact_location(url)}"
    )


def _as_path(value: object, name: str) -> Path:
    """A ``Path`` from a str or ``os.PathLike``; anything else is a ConfigurationError."""
    if isinstance(value, str | os.PathLike) and str(value).strip():
        try:
            return Path(value)
        except TypeError:  # a PathLike whose __fspath__ gives bytes
            pass
    raise ConfigurationError(
        f"ServerConfig {name}= must be a file system path (str or pathlib.Path), got {value!r}"
    )


def _check_local(path: Path, option: str) -> None:
    """Refuse a path that is really a URL (a ``Path`` turns ``scheme://`` into ``scheme:/``)."""
    text = str(path)
    if _POSTGRES.match(text):
        raise _postgres_refusal(text)
    if _URL_LIKE.match(text):
        raise ConfigurationError(
            f"{option} {redact_location(text)} looks like a URL, not a local path: the server "
            "stores memory in SQLite files; pass a directory or file path"
        )
    if text == ":memory:":
        raise ConfigurationError(
            f"{option} :memory: cannot be served (each connection would see its own empty "
            "database): pass a file path"
        )


# --- the token file ------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


class _Source:
    """Where a token file's keys are, for error messages of the form ``file:line: ...``."""

    def __init__(self, origin: str, text: str | None) -> None:
        self.origin = origin
        self.text = text

    def line_of(self, key: str, occurrence: int = 1) -> int | None:
        if self.text is None:
            return None
        needle = json.dumps(key, ensure_ascii=False)
        at = -1
        for _ in range(occurrence):
            at = self.text.find(needle, at + 1)
            if at < 0:
                return None
        return self.text.count("\n", 0, at) + 1

    def error(
        self, message: str, key: str | None = None, occurrence: int = 1
    ) -> ConfigurationError:
        line = None if key is None else self.line_of(key, occurrence)
        where = self.origin if line is None else f"{self.origin}:{line}"
        return ConfigurationError(f"{where}: {message}")


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth2 client-credentials client (for the SAP SDK) and the tenant it acts for."""

    client_id: str
    secret_sha256: str
    tenant: str


@dataclass
class AuthConfig:
    """Bearer tokens (static) and OAuth clients, each mapped to one tenant.

    ``enabled=None`` means: on when any credential is configured, off otherwise.
    ``max_failures`` failed authentications from one client address within
    ``failure_window`` seconds lock that address out (429) for the rest of the window.
    """

    tokens: dict[str, str] = field(default_factory=dict)  # sha256(token) -> tenant
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    enabled: bool | None = None
    token_ttl: int = 3600  # lifetime of tokens issued by POST /oauth/token
    max_failures: int = 10
    failure_window: float = 60.0

    @property
    def active(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        return bool(self.tokens or self.clients)

    @property
    def tenants(self) -> set[str]:
        return set(self.tokens.values()) | {c.tenant for c in self.clients.values()}

    def add_token(self, token: str, tenant: str = DEFAULT_TENANT) -> None:
        if not token or len(token) < 8:
            raise ConfigurationError("tokens must be at least 8 characters long")
        self.tokens[token_hash(token)] = check_tenant(tenant)

    def add_client(self, client_id: str, secret: str, tenant: str = DEFAULT_TENANT) -> None:
        if not client_id or not secret:
            raise ConfigurationError("an OAuth client needs a non-empty client_id and secret")
        self.clients[client_id] = OAuthClient(client_id, token_hash(secret), check_tenant(tenant))

    @classmethod
    def from_file(cls, path: str | Path) -> AuthConfig:
        """Load ``{"tokens": {token: tenant}, "clients": {id: {"secret", "tenant"}},
        "token_ttl": seconds}``, strictly: any mistake is an error naming its line.

        Tokens may also be given pre-hashed as ``"sha256:<64 hex digits>"`` keys, so the
        file need not hold them in clear. Error messages never repeat a token or secret.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigurationError(f"cannot read the token file {path}: {reason}") from None
        source = _Source(str(path), text)
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        except _DuplicateKey as dup:
            raise source.error(
                "this key appears twice in one object; keep one", dup.key, occurrence=2
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise source.error("expected a JSON object with 'tokens' and/or 'clients'")
        config = cls()
        config._merge(data, source)
        if not config.tokens and not config.clients:
            raise source.error(
                "defines no tokens and no clients, so auth would be off: add a token, or "
                "serve with --no-auth on purpose"
            )
        return config

    def merge(self, data: dict[str, Any], origin: str = "auth config") -> None:
        """Add the credentials of a token-file-shaped dict (checked as strictly)."""
        self._merge(data, _Source(origin, None))

    def _merge(self, data: dict[str, Any], source: _Source) -> None:
        for key in data:
            if key not in ("tokens", "clients", "token_ttl"):
                raise source.error(
                    f"unknown key {key!r}: a token file takes 'tokens', 'clients' and 'token_ttl'",
                    key,
                )
        tokens = data.get("tokens", {})
        clients = data.get("clients", {})
        for name, value in (("tokens", tokens), ("clients", clients)):
            if not isinstance(value, dict):
                raise source.error(f"'{name}' must be a JSON object", name)
        for token, tenant in tokens.items():
            self._merge_token(token, tenant, source)
        for client_id, entry in clients.items():
            self._merge_client(client_id, entry, source)
        if "token_ttl" in data:
            ttl = data["token_ttl"]
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TOKEN_TTL:
                raise source.error(
                    f"token_ttl must be a whole number of seconds from 1 to {MAX_TOKEN_TTL}",
                    "token_ttl",
                )
            self.token_ttl = ttl

    def _merge_token(self, token: str, tenant: Any, source: _Source) -> None:
        if not isinstance(tenant, str):
            raise source.error("the tenant of each token must be a string", token)
        try:
            check_tenant(tenant)
            if token.startswith("sha256:"):
                digest = token[len("sha256:") :]
                if not _DIGEST.match(digest):
                    raise ConfigurationError(
                        "a 'sha256:' key must be followed by exactly 64 hexadecimal characters "
                        f"(got {len(digest)} characters): hashlib.sha256(token.encode())"
                        ".hexdigest()"
                    )
                self.tokens[digest.lower()] = tenant
            else:
                self.add_token(token, tenant)
        except ConfigurationError as exc:
            raise source.error(str(exc), token) from None

    def _merge_client(self, client_id: str, entry: Any, source: _Source) -> None:
        if not isinstance(entry, dict):
            raise source.error(
                f"client {client_id!r} must be an object {{'secret': ..., 'tenant': ...}}",
                client_id,
            )
        unknown = sorted(set(entry) - {"secret", "tenant"})
        if unknown:
            raise source.error(
                f"client {client_id!r} has unknown key {unknown[0]!r}: a client takes "
                "'secret' and 'tenant'",
                client_id,
            )
        secret, tenant = entry.get("secret"), entry.get("tenant", DEFAULT_TENANT)
        if not isinstance(secret, str) or not secret:
            raise source.error(f"client {client_id!r} needs a non-empty 'secret'", client_id)
        if not isinstance(tenant, str):
            raise source.error(f"the tenant of client {client_id!r} must be a string", client_id)
        try:
            self.add_client(client_id, secret, tenant)
        except ConfigurationError as exc:
            raise source.error(str(exc), client_id) from None


@dataclass
class ServerConfig:
    """Everything ``create_app`` needs.

    Storage: each tenant gets ``<data_dir>/<tenant>/memory.sqlite3`` (the Couchbase-style
    tree, with the prompt registry) and ``<data_dir>/<tenant>/sap.sqlite3`` (the SAP tree).
    ``path`` pins the default tenant's memory store to one file instead (for serving an
    existing embedded store); its SAP store then sits beside it as ``<stem>.sap<suffix>``.

    ``allowed_hosts``: extra ``Host`` names to answer to. On a loopback ``host`` only
    localhost, 127.0.0.1 and [::1] are answered otherwise (DNS rebinding protection); on
    another address, any Host unless this is set.
    """

    data_dir: Path = Path("agent-memory-server")
    path: Path | None = None
    embedder: Any = None  # an Embedder, a spec string, or None for Settings().embedder
    settings: Settings = field(default_factory=Settings)
    auth: AuthConfig = field(default_factory=AuthConfig)
    host: str = "127.0.0.1"
    drain_timeout: float = 30.0
    open_docs: bool = True
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Built from Python as often as from the CLI: accept what a user naturally passes
        # (str or os.PathLike paths, a list of hosts) and refuse the rest here, typed.
        self.data_dir = _as_path(self.data_dir, "data_dir")
        self.path = None if self.path is None else _as_path(self.path, "path")
        if not isinstance(self.settings, Settings):
            raise ConfigurationError(
                f"ServerConfig settings= must be a Settings, got {type(self.settings).__name__}"
            )
        if not isinstance(self.auth, AuthConfig):
            raise ConfigurationError(
                f"ServerConfig auth= must be an AuthConfig, got {type(self.auth).__name__}"
            )
        if not isinstance(self.host, str) or not self.host:
            raise ConfigurationError("ServerConfig host= must be a non-empty host name or address")
        timeout = self.drain_timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (0 <= timeout < float("inf"))
        ):
            raise ConfigurationError(
                f"ServerConfig drain_timeout= must be a number of seconds >= 0, got {timeout!r}"
            )
        if not isinstance(self.open_docs, bool):
            raise ConfigurationError("ServerConfig open_docs= must be True or False")
        hosts = self.allowed_hosts
        if isinstance(hosts, str) or not all(isinstance(h, str) for h in hosts):
            raise ConfigurationError(
                "ServerConfig allowed_hosts= must be a sequence of host names, e.g. "
                '("memory.internal",), not a single string'
            )
        self.allowed_hosts = tuple(hosts)

    def validate(self) -> None:
        """Refuse configurations that would expose data, mix tenants or store elsewhere."""
        _check_local(self.data_dir, "--data-dir")
        if self.path is not None:
            _check_local(self.path, "--path")
        if self.auth.enabled is False and (self.auth.tokens or self.auth.clients):
            raise ConfigurationError(
                "--no-auth contradicts the credentials given (--token, --token-file, --client "
                "or MEMORY_INTEGRATIONS_SERVER_TOKEN): drop --no-auth to serve with "
                "authentication, or drop the credentials"
            )
        if self.path is not None and self.auth.tenants - {DEFAULT_TENANT}:
            raise ConfigurationError(
                "--path serves one store, but the credentials name several tenants; use "
                "--data-dir so each tenant gets its own files"
            )
        if self.auth.enabled is None and not self.auth.active and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to serve {self.host} without authentication: pass --token or "
                "--token-file, or --no-auth to accept anonymous access on purpose"
            )
        for name in self.allowed_hosts:
            if not _HOST_NAME.match(name):
                raise ConfigurationError(
                    f"--allowed-host {name!r} is not a host name: give the name alone, "
                    "without scheme or port, e.g. --allowed-host memory.internal"
                )

    def host_allowlist(self) -> frozenset[str] | None:
        """The Host names to answer to (lower-case, no port), or None for any."""
        extra = {h.lower().strip("[]").rstrip(".") for h in self.allowed_hosts}
        if is_loopback(self.host):
            return LOOPBACK_NAMES | extra
        return frozenset(extra) if extra else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
