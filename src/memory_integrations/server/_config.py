"""Server configuration: where tenants' data lives, which credentials map to which tenant."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._settings import Settings
from ..errors import ConfigurationError

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


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
    """

    tokens: dict[str, str] = field(default_factory=dict)  # sha256(token) -> tenant
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    enabled: bool | None = None
    token_ttl: int = 3600  # lifetime of tokens issued by POST /oauth/token

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
        """Load ``{"tokens": {token: tenant}, "clients": {id: {"secret", "tenant"}}}``.

        Tokens may also be given pre-hashed as ``"sha256:<hex>"`` keys, so the file need
        not hold them in clear.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read the token file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: expected a JSON object with 'tokens'/'clients'")
        config = cls()
        config.merge(data, str(path))
        return config

    def merge(self, data: dict[str, Any], origin: str = "auth config") -> None:
        tokens = data.get("tokens", {})
        clients = data.get("clients", {})
        if not isinstance(tokens, dict) or not isinstance(clients, dict):
            raise ConfigurationError(f"{origin}: 'tokens' and 'clients' must be JSON objects")
        for token, tenant in tokens.items():
            if not isinstance(tenant, str):
                raise ConfigurationError(f"{origin}: the tenant of each token must be a string")
            if token.startswith("sha256:"):
                self.tokens[token[7:].lower()] = check_tenant(tenant)
            else:
                self.add_token(token, tenant)
        for client_id, entry in clients.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("secret"), str):
                raise ConfigurationError(
                    f"{origin}: client {client_id!r} needs {{'secret': ..., 'tenant': ...}}"
                )
            self.add_client(client_id, entry["secret"], str(entry.get("tenant", DEFAULT_TENANT)))
        if "token_ttl" in data:
            self.token_ttl = int(data["token_ttl"])


@dataclass
class ServerConfig:
    """Everything ``create_app`` needs.

    Storage: each tenant gets ``<data_dir>/<tenant>/memory.sqlite3`` (the Couchbase-style
    tree, with the prompt registry) and ``<data_dir>/<tenant>/sap.sqlite3`` (the SAP tree).
    ``path`` pins the default tenant's memory store to one file instead (for serving an
    existing embedded store); its SAP store then sits beside it as ``<stem>.sap<suffix>``.
    """

    data_dir: Path = Path("agent-memory-server")
    path: Path | None = None
    embedder: Any = None  # an Embedder, a spec string, or None for Settings().embedder
    settings: Settings = field(default_factory=Settings)
    auth: AuthConfig = field(default_factory=AuthConfig)
    host: str = "127.0.0.1"
    drain_timeout: float = 30.0
    open_docs: bool = True

    def validate(self) -> None:
        """Refuse configurations that would expose data or mix tenants."""
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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
