"""Bearer-token authentication mapped to tenants, and an OAuth2 client-credentials issuer.

Static tokens come from ``--token`` / the token file; the SAP SDK instead fetches tokens
from ``POST /oauth/token`` with its client id and secret. Either way a token names exactly
one tenant, and every data route runs in that tenant's own stores. Tokens are only ever
held as SHA-256 digests.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AuthenticationError
from ._config import DEFAULT_TENANT, AuthConfig, token_hash


class InvalidClientError(AuthenticationError):
    """OAuth client authentication failed (RFC 6749 ``invalid_client``)."""

    default_code = "invalid_client"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    tenant: str


class TokenAuthority:
    """Resolves ``Authorization`` headers to tenants and issues client-credentials tokens."""

    def __init__(self, config: AuthConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._issued: dict[str, tuple[str, float]] = {}  # sha256 -> (tenant, expiry)
        self._lock = threading.Lock()
        self.issued_count = 0
        self.rejected_count = 0

    @property
    def active(self) -> bool:
        return self.config.active

    def tenant_for(self, authorization: str | None) -> str:
        """The tenant a request acts for; raises ``AuthenticationError`` (401) when unknown."""
        if not self.active:
            return DEFAULT_TENANT
        if not authorization:
            self.rejected_count += 1
            raise AuthenticationError(
                "this server requires a bearer token: send 'Authorization: Bearer <token>'"
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            self.rejected_count += 1
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        digest = token_hash(token)
        tenant = self.config.tokens.get(digest)
        if tenant is not None:
            return tenant
        with self._lock:
            issued = self._issued.get(digest)
            if issued is not None and issued[1] > self._clock():
                return issued[0]
            if issued is not None:
                del self._issued[digest]
        self.rejected_count += 1
        raise AuthenticationError(
            "the bearer token is unknown or has expired; fetch a new one (POST /oauth/token) "
            "or check the token the server was started with"
        )

    def issue(self, client_id: str | None, client_secret: str | None) -> IssuedToken:
        """Client-credentials grant: a fresh random token for the client's tenant."""
        tenant = DEFAULT_TENANT
        if self.active:
            client = self.config.clients.get(client_id or "")
            if client is None or not hmac.compare_digest(
                client.secret_sha256, token_hash(client_secret or "")
            ):
                raise InvalidClientError("unknown client_id or wrong client_secret")
            tenant = client.tenant
        token = secrets.token_urlsafe(32)
        ttl = self.config.token_ttl
        with self._lock:
            now = self._clock()
            for digest in [d for d, (_, exp) in self._issued.items() if exp <= now]:
                del self._issued[digest]
            self._issued[token_hash(token)] = (tenant, now + ttl)
            self.issued_count += 1
        return IssuedToken(token, ttl, tenant)

    def revoke_issued(self) -> int:
        """Forget every issued token (clients then get 401 and fetch new ones)."""
        with self._lock:
            count = len(self._issued)
            self._issued.clear()
        return count
