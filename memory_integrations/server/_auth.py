"""Bearer-token authentication mapped to tenants, and an OAuth2 client-credentials issuer.

Static tokens come from ``--token`` / the token file; the SAP SDK instead fetches tokens
from ``POST /oauth/token`` with its client id and secret. Either way a token names exactly
one tenant, and every data route runs in that tenant's own stores. Tokens are only ever
held as SHA-256 digests.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AuthenticationError, RateLimitError
from ._config import DEFAULT_TENANT, AuthConfig, token_hash


class InvalidClientError(AuthenticationError):
    """OAuth client authentication failed (RFC 6749 ``invalid_client``)."""

    default_code = "invalid_client"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    tenant: str


class FailureThrottle:
    """Failed authentications per client address in a sliding window: an address with
    ``limit`` failures in the last ``window`` seconds gets 429 until the oldest ages out."""

    MAX_ADDRESSES = 10_000

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str | None) -> None:
        """Raise ``RateLimitError`` (429 + Retry-After) while ``address`` is locked out."""
        if address is None:
            return
        with self._lock:
            recent = self._recent(address, self._clock())
            if recent is None or len(recent) < self.limit:
                return
            wait = recent[0] + self.window - self._clock()
        raise RateLimitError(
            f"too many failed authentications from {address}: {self.limit} in the last "
            f"{self.window:g} s; retry after {math.ceil(wait)} s with a valid token",
            retry_after=max(1.0, float(math.ceil(wait))),
        )

    def failed(self, address: str | None) -> None:
        if address is None:
            return
        with self._lock:
            now = self._clock()
            if address not in self._failures and len(self._failures) >= self.MAX_ADDRESSES:
                self._forget_old(now)
            recent = self._recent(address, now)
            if recent is None:
                recent = self._failures[address] = deque()
            recent.append(now)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        recent = self._failures.get(address)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    def _forget_old(self, now: float) -> None:
        for address in [a for a, times in self._failures.items() if times[-1] <= now - self.window]:
            del self._failures[address]
        while len(self._failures) >= self.MAX_ADDRESSES:  # all recent: drop the oldest
            del self._failures[next(iter(self._failures))]


class TokenAuthority:
    """Resolves ``Authorization`` headers to tenants and issues client-credentials tokens.

    Failed attempts are counted per client address (``client=``): past the configured
    number, that address gets 429 until the window has passed.
    """

    def __init__(self, config: AuthConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._issued: dict[str, tuple[str, float]] = {}  # sha256 -> (tenant, expiry)
        self._lock = threading.Lock()
        self.throttle = FailureThrottle(config.max_failures, config.failure_window)
        self.issued_count = 0
        self.rejected_count = 0

    @property
    def active(self) -> bool:
        return self.config.active

    def tenant_for(self, authorization: str | None, client: str | None = None) -> str:
        """The tenant a request acts for; raises ``AuthenticationError`` (401) when unknown
        and ``RateLimitError`` (429) while ``client`` is locked out."""
        if not self.active:
            return DEFAULT_TENANT
        self.throttle.check(client)
        if not authorization:
            self.rejected_count += 1
            raise AuthenticationError(
                "this server requires a bearer token: send 'Authorization: Bearer <token>'"
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            self.rejected_count += 1
            self.throttle.failed(client)
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
        self.throttle.failed(client)
        raise AuthenticationError(
            "the bearer token is unknown or has expired; fetch a new one (POST /oauth/token) "
            "or check the token the server was started with"
        )

    def issue(
        self, client_id: str | None, client_secret: str | None, client: str | None = None
    ) -> IssuedToken:
        """Client-credentials grant: a fresh random token for the client's tenant."""
        tenant = DEFAULT_TENANT
        if self.active:
            self.throttle.check(client)
            known = self.config.clients.get(client_id or "")
            if known is None or not hmac.compare_digest(
                known.secret_sha256, token_hash(client_secret or "")
            ):
                self.throttle.failed(client)
                raise InvalidClientError("unknown client_id or wrong client_secret")
            tenant = known.tenant
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
