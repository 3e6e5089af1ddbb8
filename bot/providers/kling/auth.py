"""Kling's authentication (providers.md 1.2): an API key, or an HS256 JWT signed with the
secret key. The API key works for every model; AK/SK tokens only on the old-standard
`/v1` routes, which are the ones Claymate calls, so both are accepted."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

JWT_TTL_S = 1800  # KDOC sample: exp = now + 30 min
JWT_NBF_SKEW_S = 5  # KDOC sample: nbf = now - 5 s, tolerates a slightly fast server clock
# Re-sign when less than this remains: max(60 s as in ARC, ~10 % of the lifetime as in KDEMO).
JWT_REFRESH_MARGIN_S = max(60.0, JWT_TTL_S * 0.1)


class KlingJwt:
    """Signs and caches the HS256 token Kling wants; the clock is injectable for tests.

    A fresh token per request would also work (KDOC), but caching saves an HMAC per poll
    and renewing well before expiry keeps 1004 "token expired" out of normal operation.
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        clock: Callable[[], float] = time.time,
        ttl_s: int = JWT_TTL_S,
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._clock = clock
        self._ttl_s = ttl_s
        self._token: str | None = None
        self._exp = 0.0

    def __repr__(self) -> str:  # never show the keys or the token
        return f"KlingJwt(ttl_s={self._ttl_s})"

    def token(self) -> str:
        """The cached token, or a newly signed one when little of its lifetime is left."""
        now = self._clock()
        if self._token is not None and self._exp - now > JWT_REFRESH_MARGIN_S:
            return self._token
        exp = int(now) + self._ttl_s
        claims = {"iss": self._access_key, "exp": exp, "nbf": int(now) - JWT_NBF_SKEW_S}
        token = jwt.encode(claims, self._secret_key, algorithm="HS256", headers={"typ": "JWT"})
        self._token, self._exp = token, float(exp)
        return token

    def headers(self) -> dict[str, str]:
        """The Authorization header for one call."""
        return {"Authorization": f"Bearer {self.token()}"}

    def renew(self) -> None:
        """Forget the cached token so the next request signs a new one (after 1003/1004)."""
        self._token = None

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never leave the provider (used to scrub error details)."""
        return tuple(s for s in (self._secret_key, self._access_key, self._token) if s)


class KlingApiKey:
    """The console's API key, sent as it is: `Authorization: Bearer <key>`, nothing to sign."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __repr__(self) -> str:  # never show the key
        return "KlingApiKey()"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def renew(self) -> None:
        """Nothing cached: a key does not expire like a token (1003/1004 cannot occur)."""

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)


def kling_credentials(
    access_key: str | None,
    secret_key: str | None,
    api_key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> KlingApiKey | KlingJwt:
    """The console's API key when given (it works on every /v1 route, video and image),
    else a JWT signed with the access/secret pair; ValueError when neither is whole."""
    if api_key:
        return KlingApiKey(api_key)
    if access_key and secret_key:
        return KlingJwt(access_key, secret_key, clock)
    raise ValueError("a Kling API key, or an access key and a secret key, is required")
